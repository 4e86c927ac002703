"""The Typer application with every command registered, and how it is run: any exception
that escapes a command becomes a message and exit status 70, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from metricspec import __version__
from metricspec.cli import (  # noqa: F401 - importing registers the commands
    demo_command,
    diff_command,
    doc_commands,
    init_command,
    kpi_command,
    lock_command,
    query_command,
    run_commands,
    schema_command,
    spec_commands,
)
from metricspec.cli.common import app, err, out
from metricspec.cli.settings import configure


def version_callback(value: bool) -> None:
    if value:
        out.print(f"metricspec {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=version_callback,
                                          is_eager=True, help="Show the version.")] = False,
    config: Annotated[Path | None, typer.Option(
        "--config", envvar="METRICSPEC_CONFIG", show_default=False,
        help="Configuration file (default: the nearest metricspec.toml, or pyproject.toml "
        "with \\[tool.metricspec], in this folder or above).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print errors and the "
                                        "results asked for only.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also print timings and "
                                          "the queries run (on stderr).")] = False,
) -> None:
    """metricspec: metric specs → checked, compiled, run."""
    configure(ctx, config, quiet, verbose)


def run() -> None:
    """Run the app; turn any escaped exception into a message, not a traceback."""
    try:
        app(prog_name="metricspec")  # standalone mode: usage errors print their message and exit 2
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        err.print(f"metricspec: internal error: {type(exc).__name__}: {exc}", markup=False)
        err.print("this is a bug in metricspec; please report it with the command you ran",
                  markup=False)
        sys.exit(70)
