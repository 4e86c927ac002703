"""`metricspec init [DIR]`: scaffold a project, never overwriting a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from metricspec.cli import scaffold
from metricspec.cli.common import app, output_errors, usage_error
from metricspec.cli.settings import note

SCHEMA_COMMENT = "# yaml-language-server: $schema={}schema/metricspec.schema.json\n"


def project_files() -> dict[str, str]:
    """Every file `init` writes, by path relative to the project folder."""
    from metricspec.resources import example_specs_dir
    from metricspec.schema import json_schema_text

    examples = example_specs_dir()
    files = {
        "metricspec.toml": scaffold.CONFIG,
        "README.md": scaffold.README,
        ".gitignore": scaffold.GITIGNORE,
        ".github/workflows/metricspec.yml": scaffold.WORKFLOW,
        ".pre-commit-config.yaml": scaffold.PRE_COMMIT,
        ".vscode/settings.json": scaffold.VSCODE,
        "schema/metricspec.schema.json": json_schema_text(),
    }
    for name in scaffold.EXAMPLE_SPECS:
        text = (examples / name).read_text(encoding="utf-8")
        if name.endswith(".yaml"):  # editors validate it against the schema
            text = SCHEMA_COMMENT.format("../" * (name.count("/") + 1)) + text
        files[f"specs/{name}"] = text
    return files


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="The project folder (created if missing).")
                      ] = Path("."),
) -> None:
    """Scaffold a project: configuration, example specs, CI workflow, pre-commit hooks."""
    from metricspec.outputs import inside, write_text

    files = project_files()
    existing = sorted(name for name in files if (folder / name).exists())
    if existing:
        usage_error(f"{folder} already has {', '.join(existing)}; init never overwrites a "
                    "file: move them away or init another folder", "MS911")
    with output_errors():
        for name, text in files.items():
            write_text(inside(folder, *name.split("/")), text)
    where = "" if folder == Path(".") else f"cd {folder} && "
    note(f"wrote {len(files)} files into {folder}/. Next: {where}metricspec check && "
         "metricspec demo")
