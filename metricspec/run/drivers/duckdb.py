"""DuckDB, the embedded default: ``duckdb:///:memory:`` or ``duckdb:///file.duckdb``.

The path follows the SQLAlchemy convention: three slashes then a relative path
(``duckdb:///data/w.duckdb``), four for an absolute one (``duckdb:////srv/w.duckdb``).
Query parameters are DuckDB configuration options (``?threads=2``), except ``read_only``.

A database file must exist (a typo must not silently open a new, empty warehouse) unless the
caller asks to ``create`` it. Extensions are neither installed nor loaded automatically
(``autoinstall_known_extensions`` and ``autoload_known_extensions`` are off unless the URL
turns them on), so opening a file never downloads code.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from metricspec.run import cost
from metricspec.run.connections import QueryResult, WarehouseError, WarehouseURL, import_driver
from metricspec.run.cost import ScanCost
from metricspec.run.drivers.base import DriverConnection, warehouse_error

_TRUE = {"1", "true", "yes", "on"}
#: Configuration every connection gets; the URL's query parameters override it.
DEFAULT_CONFIG: dict[str, str] = {
    "autoinstall_known_extensions": "false",
    "autoload_known_extensions": "false",
}


class DuckDBConnection(DriverConnection):
    """A connection to an in-process DuckDB database."""

    dialect = "duckdb"

    def __init__(self, url: WarehouseURL, native: Any, errors: type[BaseException]) -> None:
        super().__init__(url)
        self.native = native
        self.query_errors = (errors,)

    def _execute(self, sql: str) -> QueryResult:
        statements = self.native.extract_statements(sql)
        if len(statements) != 1:  # DuckDB's own parser agrees with `check_one_statement`
            raise self.error(f"refused to run SQL holding {len(statements)} statements: "
                             "metricspec runs exactly one statement per query")
        cursor = self.native.execute(statements[0])
        if cursor.description is None:
            return QueryResult(columns=())
        columns = tuple(str(d[0]) for d in cursor.description)
        return QueryResult(columns=columns, rows=[tuple(r) for r in cursor.fetchall()])

    def _measure(self, sql: str) -> ScanCost | None:
        """Rows each table scan read, from DuckDB's profiler (on for every connection)."""
        if not hasattr(self.native, "get_profiling_information"):
            return None
        return cost.duckdb_profile(self.native.get_profiling_information(format="json"),
                                   on_disk=not database_path(self.url).startswith(":"))

    def estimate(self, sql: str) -> ScanCost | None:
        """The row counts of the tables the query's plan scans (an upper bound: DuckDB may
        skip row groups its zone maps rule out); DuckDB estimates no bytes."""
        self.check_one_statement(sql)
        try:
            [(_, plan)] = self.native.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchall()
            scans = []
            for table in cost.duckdb_plan_tables(plan):
                parts = table.split(".")
                found = self.native.execute(
                    "SELECT sum(estimated_size) FROM duckdb_tables() WHERE table_name = ? "
                    "AND (? IS NULL OR schema_name = ?)",
                    [parts[-1], *([parts[-2]] * 2 if len(parts) > 1 else [None, None])],
                ).fetchone()
                rows = int(found[0]) if found and found[0] is not None else None
                scans.append(cost.TableScan(table, rows))
        except self.query_errors as exc:
            raise self.error(f"duckdb could not plan the query: {exc}", exc) from exc
        return cost.ScanCost(tuple(scans), "DuckDB plan and table sizes", measured=False)

    def _close(self) -> None:
        self.native.close()


def database_path(url: WarehouseURL) -> str:
    """Return the DuckDB database argument for ``url`` (``:memory:`` when empty)."""
    rest = url.raw.split("://", 1)[1].split("?", 1)[0]
    path = rest[1:] if rest.startswith("/") else rest
    return path or ":memory:"


def open_connection(url: WarehouseURL, *, create: bool = False) -> DuckDBConnection:
    """Open the DuckDB database named by ``url``; ``create`` allows a new file.

    Raises:
        WarehouseError: If the file is missing (and ``create`` is false), is not a regular
            file, or cannot be opened (locked, not a database, bad option).
    """
    duckdb = import_driver("duckdb", extra="duckdb", what="DuckDB")
    config = {**DEFAULT_CONFIG, **{k: v for k, v in url.query.items() if k != "read_only"}}
    read_only = url.query.get("read_only", "").lower() in _TRUE
    path = database_path(url)
    if not path.startswith(":"):  # `:memory:` and other special names are not files
        if not os.path.exists(path) and not create:
            raise WarehouseError(f"DuckDB database {path!r} does not exist",
                                 url=url.redacted, hint="check the path; `metricspec demo` "
                                 "creates the example warehouse")
        if os.path.exists(path) and not os.path.isfile(path):
            raise WarehouseError(f"DuckDB database {path!r} is not a regular file",
                                 url=url.redacted)
    try:
        native = duckdb.connect(path, read_only=read_only, config=config)
    except duckdb.Error as exc:
        raise warehouse_error(url, f"could not open DuckDB database: {exc}", exc) from exc
    # the profiler says what each query read (`run.cost`); "no_output" prints nothing. A
    # DuckDB without it: costs are "not reported"
    with contextlib.suppress(duckdb.Error):
        native.execute("PRAGMA enable_profiling = 'no_output'")
    return DuckDBConnection(url, native, duckdb.Error)
