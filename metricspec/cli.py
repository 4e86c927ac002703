"""The `metricspec` command. A thin layer: parse options, call the library, print.

Exit status: 0 when clean, 1 when specs (or, for `monitor`, alerts) need attention, 2 for
usage errors (bad options, missing files, unknown names), 3 for warehouse errors. Nothing
the user types produces a Python traceback.
"""

from __future__ import annotations

import datetime as dt
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


@app.command("compile")
def compile_(
    paths: PathsArg = None,
    dialect: DialectOpt = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("build"),
) -> None:
    """Compile every metric, experiment, monitor, guardrail and KPI tree to SQL files."""
    from metricspec.emit.compile import compile_all, write_all

    backends = dialects_or_exit(dialect, ("duckdb",))
    ws = load_or_exit(paths)
    if not ws.ok:
        out.print(ws.render("text"), markup=False)
        err.print(f"[red]failed[/]: {len(ws.errors)} error(s); nothing compiled", markup=True)
        raise typer.Exit(1)
    compiled, failed = compile_all(ws.index, backends)
    written = write_all(compiled, out_dir)
    for failure in failed:
        err.print(f"[red]error[/]: {failure}", markup=True)
    per_backend = ", ".join(f"{b.name}: {sum(q.backend is b for q in compiled)}"
                            for b in backends)
    out.print(f"compiled {len(compiled)} queries ({per_backend}) into {out_dir}/; "
              f"{len(written)} file(s) changed")
    raise typer.Exit(1 if failed else 0)


GrainOpt = Annotated[str, typer.Option("--grain", "-g",
                                       help="Time grain: minute, 5 minutes, hour, day, week, "
                                       "month.")]
DimensionOpt = Annotated[list[str] | None, typer.Option(
    "--dimension", "--by", help="Dimension(s) to group by.", show_default=False)]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Start (YYYY-MM-DD[THH:MM]).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="End, exclusive.")]


def parse_time(value: str | None, option: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        usage_error(f"{option} `{value}` is not a date or time (use YYYY-MM-DD[THH:MM])")


@app.command()
def sql(
    name: Annotated[str, typer.Argument(help="A metric, experiment, monitor, guardrail or KPI "
                                        "tree.")],
    paths: Annotated[list[Path] | None, typer.Option(
        "--spec-dir", "-s", help="Spec files or folders (default: specs/).",
        show_default=False)] = None,
    dialect: Annotated[str, typer.Option("--dialect", "-d", help="Warehouse dialect.")] = (
        "duckdb"),
    grain: GrainOpt = "day",
    dimension: DimensionOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
) -> None:
    """Print the SQL of one object."""
    from metricspec.emit.compile import CompileError, compile_object, object_kind
    from metricspec.plan.lower import PlanError
    from metricspec.plan.metric_query import Grain

    [backend] = dialects_or_exit([dialect])
    ws = load_or_exit(paths)
    if not ws.ok:
        out.print(ws.render("text"), markup=False)
        raise typer.Exit(1)
    index = ws.index
    if object_kind(index, name) is None:
        names = [*index.metrics, *index.experiments, *index.monitors, *index.guardrails,
                 *index.kpis]
        from metricspec.diagnostics import did_you_mean

        hint = did_you_mean(name, names)
        usage_error(f"unknown object `{name}`" + (f" — {hint}" if hint else ""))
    try:
        query = compile_object(index, name, backend, grain=Grain.parse(grain),
                               dimensions=tuple(dimension or ()),
                               start=parse_time(since, "--since"),
                               end=parse_time(until, "--until"))
    except PlanError as exc:
        usage_error(str(exc))
    except CompileError as exc:
        err.print(f"[red]error[/]: {exc}", markup=True)
        raise typer.Exit(1) from None
    sys.stdout.write(query.sql)


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
