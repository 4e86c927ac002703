"""DuckDB in memory through the product connector: the reference every other engine is
compared with."""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from harness.base import Engine, columns, scratch_dir, split_name, write_parquet
from metricspec.run.connections import Connection, connect


class ConnectorEngine(Engine):
    """An engine reached through :func:`metricspec.run.connections.connect`."""

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self.connection = connection
        self.scratch = scratch_dir(self.name)

    def _run(self, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql`` with the product connector and return its rows."""
        return self.connection.execute(sql).rows

    def close(self) -> None:
        """Close the connection and remove the scratch files."""
        self.connection.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


class DuckDBEngine(ConnectorEngine):
    """``duckdb:///:memory:``; tables are created from Parquet with explicit casts."""

    name = "duckdb"

    def __init__(self) -> None:
        started = time.perf_counter()
        super().__init__(connect("duckdb:///:memory:"))
        self.startup_seconds = time.perf_counter() - started

    def _load(self, tables: Mapping[str, pa.Table]) -> None:
        """Create each table with ``CREATE OR REPLACE TABLE ... AS SELECT CAST(...)``."""
        for qualified, table in tables.items():
            schema, name = split_name(qualified)
            path = write_parquet(table, self.scratch, qualified)
            select = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in columns(table, self.name))
            self._run(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self._run(
                f'CREATE OR REPLACE TABLE "{schema}"."{name}" AS '
                f"SELECT {select} FROM read_parquet('{path}')"
            )
