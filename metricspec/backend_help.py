"""What the command line and the connector need to know about warehouses, read from
`backends/*.toml` with the standard library alone.

Kept apart from `metricspec.backends` so that building the command line's options, and
parsing a connection URL, cost a TOML read, not pydantic and the validated models: any
command that compiles for a backend loads and validates its file through
`metricspec.backends` first. (The Snowflake test worker imports the connector in a virtual
environment that has nothing but the Snowflake client.)
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


def connectable() -> dict[str, str]:
    """URL scheme -> driver module, for every warehouse metricspec can connect to."""
    return {str(scheme): str(raw["driver"]) for raw in _files() if raw.get("driver")
            for scheme in raw.get("url_schemes", ())}


def url_examples() -> list[str]:
    """One example connection URL per warehouse metricspec can connect to, then the others."""
    examples = [[str(u) for u in raw.get("url_examples", ())] for raw in _files()]
    return [e[0] for e in examples if e] + [u for e in examples for u in e[1:]]


def compile_only(name: str) -> tuple[str, str] | None:
    """(title, name) of a warehouse metricspec compiles for but cannot connect to."""
    for raw in _files():
        if raw.get("name") == name and not raw.get("driver"):
            return str(raw.get("title", name)), name
    return None


def sqlglot_dialect(name: str) -> str:
    """The sqlglot dialect a warehouse's SQL is read in (the driver counts statements in it)."""
    for raw in _files():
        if raw.get("name") == name:
            return str(raw["sqlglot_dialect"])
    raise ValueError(f"no backend file defines `{name}`")
