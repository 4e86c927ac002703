"""The `metricspec` command. A thin layer: parse options, call the library, print.

Exit status: 0 when clean, 1 when specs (or, for `monitor`, alerts) need attention, 2 for
usage errors (bad options, missing files, unknown names), 3 for warehouse errors and for
output files that cannot be written (MS910). Nothing the user types produces a Python
traceback.

This module is what the `metricspec` script imports, so it stays light: `main` answers
`metricspec --version` before Typer and the commands are imported (editors and hooks ask it
often), and `app`, the Typer application of `commands.py`, is imported on first use.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

from metricspec import __version__


def main() -> None:
    """Entry point of the `metricspec` script and of `python -m metricspec`."""
    if sys.argv[1:] == ["--version"]:
        sys.stdout.write(f"metricspec {__version__}\n")
        return
    from metricspec.cli.commands import run

    run()


def __getattr__(name: str) -> Any:
    """`metricspec.cli.app`: the Typer application, with every command registered."""
    if name == "app":
        import_module("metricspec.cli.commands")  # registers every command on the app
        from metricspec.cli.common import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
