"""The engine interface, Arrow-to-SQL type mapping and helpers shared by the engines."""

from __future__ import annotations

import abc
import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

#: Set to 1 (as CI does) to turn "engine unavailable" from a skip into a failure.
REQUIRE_ENV = "METRICSPEC_REQUIRE_ENGINES"
REPO_ROOT = Path(__file__).resolve().parents[3]

T = TypeVar("T")
_NAME = re.compile(r"[a-z_][a-z0-9_]*")

#: The logical column types the harness loads, and their SQL spelling per engine.
LOGICAL_TYPES = ("string", "int64", "int32", "double", "bool", "timestamp", "date")
# fmt: off
_SPELLINGS = {
    "duckdb":    ("VARCHAR", "BIGINT", "INTEGER", "DOUBLE", "BOOLEAN", "TIMESTAMP", "DATE"),
    "postgres":  ("TEXT", "BIGINT", "INTEGER", "DOUBLE PRECISION", "BOOLEAN", "TIMESTAMP", "DATE"),
    "spark":     ("STRING", "BIGINT", "INT", "DOUBLE", "BOOLEAN", "TIMESTAMP", "DATE"),
    "snowflake": ("VARCHAR", "BIGINT", "INTEGER", "DOUBLE", "BOOLEAN", "TIMESTAMP_NTZ", "DATE"),
    "bigquery":  ("STRING", "INT64", "INT64", "FLOAT64", "BOOL", "TIMESTAMP", "DATE"),
}
# fmt: on
SQL_TYPES = {
    engine: dict(zip(LOGICAL_TYPES, names, strict=True)) for engine, names in _SPELLINGS.items()
}


class EngineUnavailable(RuntimeError):
    """The engine cannot start on this machine (missing binary, Java, package, ...)."""


def require_engines() -> bool:
    """Return True when unavailable engines must fail the run instead of being skipped."""
    return os.environ.get(REQUIRE_ENV, "") == "1"


def start_or_skip(factory: Callable[[], T], label: str) -> T:
    """Start an engine, or skip the test (fail it under ``METRICSPEC_REQUIRE_ENGINES=1``)."""
    try:
        return factory()
    except EngineUnavailable as exc:
        if require_engines():
            pytest.fail(f"{label} is required ({REQUIRE_ENV}=1) but unavailable: {exc}", False)
        pytest.skip(f"{label} unavailable: {exc}")


def logical_type(field: pa.Field) -> str:
    """Map an Arrow field to one of the harness's logical types (keys of ``SQL_TYPES``).

    Raises:
        TypeError: For types the harness does not load (nested, decimal, time-zoned timestamps).
    """
    t = field.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_int64(t):
        return "int64"
    if pa.types.is_int32(t) or pa.types.is_int16(t) or pa.types.is_int8(t):
        return "int32"
    if pa.types.is_floating(t):
        return "double"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_timestamp(t) and t.tz is None:
        return "timestamp"
    if pa.types.is_date32(t):
        return "date"
    raise TypeError(f"column {field.name!r}: the engine harness cannot load Arrow type {t}")


def split_name(qualified: str) -> tuple[str, str]:
    """Split ``"support.users"`` into ``("support", "users")``, checking both are plain names."""
    schema, _, table = qualified.partition(".")
    if not (_NAME.fullmatch(schema) and _NAME.fullmatch(table)):
        raise ValueError(f"table name must look like 'schema.table' in lower case: {qualified!r}")
    return schema, table


def columns(table: pa.Table, engine: str) -> list[tuple[str, str]]:
    """Return ``(column name, SQL type)`` pairs of ``table`` for ``engine``."""
    out = []
    for field in table.schema:
        if not _NAME.fullmatch(field.name):
            raise ValueError(f"column name must be a lower-case identifier: {field.name!r}")
        out.append((field.name, SQL_TYPES[engine][logical_type(field)]))
    return out


def write_parquet(table: pa.Table, directory: Path, name: str) -> Path:
    """Write ``table`` as Parquet (microsecond timestamps) readable by every local user."""
    path = directory / f"{name}.parquet"
    pq.write_table(table, path, coerce_timestamps="us", allow_truncated_timestamps=False)
    path.chmod(0o644)
    return path


def scratch_dir(prefix: str) -> Path:
    """Make a temporary directory that other local users (``postgres``) may enter."""
    path = Path(tempfile.mkdtemp(prefix=f"metricspec-{prefix}-"))
    path.chmod(0o755)
    return path


class Engine(abc.ABC):
    """A SQL engine the tests can load tables into and run SQL on.

    Subclasses implement ``_load`` and ``_run``; the public methods time every call so the
    session summary can report start-up and per-query times.

    Attributes:
        name: The metricspec backend whose SQL this engine runs.
        startup_seconds: How long the engine took to become ready.
        query_seconds: Duration of every ``run`` call so far.
        load_seconds: Duration of every ``load`` call so far.

    ``load`` skips a table the engine already holds: the same Arrow table object (tables are
    immutable) last loaded under the same name, as when two modules share the session's demo
    warehouse (``demo_warehouse`` in ``conftest.py``).
    """

    name: ClassVar[str]

    def __init__(self) -> None:
        self.startup_seconds = 0.0
        self.query_seconds: list[float] = []
        self.load_seconds: list[float] = []
        self._held: dict[str, pa.Table] = {}

    def load(self, tables: Mapping[str, pa.Table]) -> None:
        """Create (or replace) each ``schema.table`` with the Arrow table's rows and types,
        unless the engine holds that very table under that name already."""
        fresh = {name: table for name, table in tables.items() if self._held.get(name) is not table}
        if not fresh:
            return
        started = time.perf_counter()
        self._load(fresh)
        self._held.update(fresh)
        self.load_seconds.append(time.perf_counter() - started)

    def run(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one statement; raise ``WarehouseError`` with the engine's message on failure."""
        started = time.perf_counter()
        try:
            return self._run(sql)
        finally:
            self.query_seconds.append(time.perf_counter() - started)

    @abc.abstractmethod
    def _load(self, tables: Mapping[str, pa.Table]) -> None: ...

    @abc.abstractmethod
    def _run(self, sql: str) -> list[tuple[Any, ...]]: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the engine (called once at the end of the session)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
