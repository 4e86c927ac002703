"""What the command line says about warehouses, read from `backends/*.toml`.

Kept apart from `metricspec.backends` so that building the command line's options costs a
TOML read, not pydantic and the validated models: help is text, and any command that uses
a backend loads and validates its file through `metricspec.backends` first.
"""

from __future__ import annotations

import tomllib
from functools import cache
from typing import Any

from metricspec.resources import backends_dir


@cache
def _files() -> tuple[dict[str, Any], ...]:
    return tuple(tomllib.loads(path.read_text(encoding="utf-8"))
                 for path in sorted(backends_dir().glob("*.toml")))


def dialect_help() -> str:
    """The `--dialect` help: every warehouse metricspec compiles for.

    >>> dialect_help().startswith("Warehouse dialect(s): bigquery, ")
    True
    """
    names = ", ".join(str(raw.get("name", "?")) for raw in _files())
    return f"Warehouse dialect(s): {names} or all. Repeat or separate with commas."


def warehouse_help() -> str:
    """The `--warehouse` help: one example URL per warehouse metricspec can connect to.

    >>> "postgresql://user:password@host:5432/database" in warehouse_help()
    True
    """
    examples = [str(raw["url_examples"][0]) for raw in _files() if raw.get("url_examples")]
    return f"Warehouse URL: {', '.join(examples)}."
