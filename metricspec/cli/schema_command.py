"""`metricspec schema`: the JSON Schema of the YAML form, for editors and CI."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from metricspec.cli.common import app, output_errors
from metricspec.cli.settings import note


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write to this file (default: print it).", show_default=False)
    ] = None,
) -> None:
    """Print (or write) the JSON Schema of YAML spec files; see docs/editors.md."""
    from metricspec.schema import json_schema_text

    text = json_schema_text()
    if output is None:
        sys.stdout.write(text)
        return
    from metricspec.outputs import write_text

    with output_errors():
        write_text(output, text)
    note(f"wrote {output}")
