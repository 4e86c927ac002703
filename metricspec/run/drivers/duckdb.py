"""DuckDB, the embedded default: ``duckdb:///:memory:`` or ``duckdb:///file.duckdb``.

The path follows the SQLAlchemy convention: three slashes then a relative path
(``duckdb:///data/w.duckdb``), four for an absolute one (``duckdb:////srv/w.duckdb``).
Query parameters are DuckDB configuration options (``?threads=2``), except ``read_only``.
"""

from __future__ import annotations

from typing import Any

from metricspec.run.connections import QueryResult, WarehouseURL, import_driver
from metricspec.run.drivers.base import DriverConnection, warehouse_error

_TRUE = {"1", "true", "yes", "on"}


class DuckDBConnection(DriverConnection):
    """A connection to an in-process DuckDB database."""

    dialect = "duckdb"

    def __init__(self, url: WarehouseURL, native: Any, errors: type[BaseException]) -> None:
        super().__init__(url)
        self.native = native
        self.query_errors = (errors,)

    def _execute(self, sql: str) -> QueryResult:
        cursor = self.native.execute(sql)
        if cursor.description is None:
            return QueryResult(columns=())
        columns = tuple(str(d[0]) for d in cursor.description)
        return QueryResult(columns=columns, rows=[tuple(r) for r in cursor.fetchall()])

    def _close(self) -> None:
        self.native.close()


def database_path(url: WarehouseURL) -> str:
    """Return the DuckDB database argument for ``url`` (``:memory:`` when empty)."""
    rest = url.raw.split("://", 1)[1].split("?", 1)[0]
    path = rest[1:] if rest.startswith("/") else rest
    return path or ":memory:"


def open_connection(url: WarehouseURL) -> DuckDBConnection:
    """Open the DuckDB database named by ``url``.

    Raises:
        WarehouseError: If the file cannot be opened (locked, not a database, bad option).
    """
    duckdb = import_driver("duckdb", extra="duckdb", what="DuckDB")
    config = {k: v for k, v in url.query.items() if k != "read_only"}
    read_only = url.query.get("read_only", "").lower() in _TRUE
    try:
        native = duckdb.connect(database_path(url), read_only=read_only, config=config)
    except duckdb.Error as exc:
        raise warehouse_error(url, f"could not open DuckDB database: {exc}", exc) from exc
    return DuckDBConnection(url, native, duckdb.Error)
