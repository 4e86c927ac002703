"""Warehouse backends, read from the TOML files in `backends/`.

A `Backend` is data: its sqlglot dialect, how to connect, and capability flags. The emitter
reads the flags; nothing outside this module and `backends/` compares a backend's name.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from typing import Literal

from metricspec.resources import backends_dir

PercentileShape = Literal["quantile_cont", "within_group", "percentile", "approx_quantiles"]


@dataclass(frozen=True)
class Capabilities:
    percentile: Literal["exact", "approximate"]
    percentile_shape: PercentileShape
    group_by_all: bool
    filter_clause: bool
    qualify: bool
    integer_division: Literal["float", "truncate"]
    safe_divide: str
    boolean_sum: bool
    identifier_case: Literal["as_is", "upper", "lower"]
    timestamp_type: str
    week_unit: str
    decimal_literals: Literal["exact", "float"]
    approx_quantile_buckets: int = 1000


@dataclass(frozen=True)
class Backend:
    name: str
    title: str
    sqlglot_dialect: str
    driver: str
    url_schemes: tuple[str, ...]
    capabilities: Capabilities

    def __str__(self) -> str:
        return self.name


class UnknownBackend(ValueError):
    """Raised for a `--dialect` no definition exists for."""


@cache
def all_backends() -> dict[str, Backend]:
    """Every backend defined in `backends/*.toml`, by name, in a stable order."""
    found: dict[str, Backend] = {}
    for path in sorted(backends_dir().glob("*.toml")):
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        caps = raw["capabilities"]
        backend = Backend(
            name=raw["name"], title=raw["title"], sqlglot_dialect=raw["sqlglot_dialect"],
            driver=raw["driver"], url_schemes=tuple(raw["url_schemes"]),
            capabilities=Capabilities(**caps),
        )
        found[backend.name] = backend
    return found


def get_backend(name: str) -> Backend:
    """Look a backend up by name; `UnknownBackend` lists the known ones."""
    backends = all_backends()
    if name not in backends:
        known = ", ".join(backends)
        raise UnknownBackend(f"unknown dialect `{name}` (known: {known}, or `all`)")
    return backends[name]


def backend_for_scheme(scheme: str) -> Backend:
    """The backend a connection URL scheme (`postgresql`, `duckdb`…) selects."""
    for backend in all_backends().values():
        if scheme in backend.url_schemes:
            return backend
    schemes = sorted(s for b in all_backends().values() for s in b.url_schemes)
    raise UnknownBackend(f"no backend for URL scheme `{scheme}` (known: {', '.join(schemes)})")


def resolve_dialects(names: list[str]) -> list[Backend]:
    """Expand `all` and look up each name, keeping order and dropping repeats."""
    out: dict[str, Backend] = {}
    for name in names:
        for part in name.split(","):
            part = part.strip().lower()
            if not part:
                continue
            if part == "all":
                out.update(all_backends())
            else:
                backend = get_backend(part)
                out[backend.name] = backend
    return list(out.values())
