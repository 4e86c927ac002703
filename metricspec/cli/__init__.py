"""The `metricspec` command. A thin layer: parse options, call the library, print.

Exit status: 0 when clean, 1 when specs (or, for `monitor`, alerts) need attention, 2 for
usage errors (bad options, missing files, unknown names), 3 for warehouse errors and for
output files that cannot be written (MS910). Nothing the user types produces a Python
traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from metricspec import __version__
from metricspec.cli import (  # noqa: F401 - importing registers the commands
    demo_command,
    doc_commands,
    run_commands,
    spec_commands,
)
from metricspec.cli.common import app, err, out


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
    except Exception as exc:
        err.print(f"metricspec: internal error: {type(exc).__name__}: {exc}", markup=False)
        err.print("this is a bug in metricspec; please report it with the command you ran",
                  markup=False)
        sys.exit(70)


if __name__ == "__main__":
    main()
