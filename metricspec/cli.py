"""The `metricspec` command. A thin layer: parse options, call the library, print.

Exit status: 0 when clean, 1 when specs (or, for `monitor`, alerts) need attention, 2 for
usage errors (bad options, missing files, unknown names), 3 for warehouse errors. Nothing
the user types produces a Python traceback.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from metricspec import __version__
from metricspec.backends import Backend, UnknownBackend, resolve_dialects
from metricspec.workspace import NoSpecFiles, Workspace

app = typer.Typer(
    name="metricspec",
    help="Declarative metric specs: check them, compile them to warehouse SQL, run experiments "
    "and monitors.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class CheckFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


PathsArg = Annotated[list[Path] | None, typer.Argument(
    help="Spec files or folders (default: specs/).", show_default=False)]
DialectOpt = Annotated[list[str] | None, typer.Option(
    "--dialect", "-d", help="Warehouse dialect(s): duckdb, bigquery, snowflake, spark, postgres "
    "or all. Repeat or separate with commas.", show_default=False)]


def usage_error(message: str) -> NoReturn:
    err.print(f"[bold red]error[/]: {message}", markup=True)
    raise typer.Exit(2)


def dialects_or_exit(names: list[str] | None, default: tuple[str, ...] = ()) -> list[Backend]:
    try:
        return resolve_dialects(list(names or default))
    except UnknownBackend as exc:
        usage_error(str(exc))


def load_or_exit(paths: list[Path] | None, backends: list[Backend] | None = None) -> Workspace:
    try:
        return Workspace.load(*(paths or [Path("specs")]), backends=backends or [])
    except NoSpecFiles as exc:
        usage_error(str(exc))


@app.command()
def check(
    paths: PathsArg = None,
    fmt: Annotated[CheckFormat, typer.Option("--format", "-f", help="Output format.")] = (
        CheckFormat.text),
    dialect: DialectOpt = None,
    strict: Annotated[bool, typer.Option(help="Fail on warnings too.")] = False,
) -> None:
    """Check specs without a warehouse and report every problem precisely."""
    backends = dialects_or_exit(dialect)
    ws = load_or_exit(paths, backends)
    if fmt is CheckFormat.text:
        if ws.diagnostics:
            out.print(ws.render("text"), markup=False)
            out.print()
        verdict = ("[green]ok[/]" if ws.ok and not (strict and ws.warnings)
                   else "[red]failed[/]")
        out.print(f"{verdict}: {ws.summary()}; {len(ws.errors)} error(s), "
                  f"{len(ws.warnings)} warning(s)", markup=True)
    else:
        text = ws.render(fmt.value)
        if text:
            sys.stdout.write(text + "\n")
    failed = bool(ws.errors) or (strict and bool(ws.warnings))
    raise typer.Exit(1 if failed else 0)


def version_callback(value: bool) -> None:
    if value:
        out.print(f"metricspec {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=version_callback,
                                          is_eager=True, help="Show the version.")] = False,
) -> None:
    """metricspec: metric specs → checked, compiled, run."""


def main() -> None:
    """Entry point: run the app; turn any escaped exception into a message, not a traceback."""
    try:
        app()  # standalone mode: usage errors print their message and exit 2
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        err.print(f"metricspec: internal error: {type(exc).__name__}: {exc}", markup=False)
        err.print("this is a bug in metricspec; please report it with the command you ran",
                  markup=False)
        sys.exit(70)


if __name__ == "__main__":
    main()
