"""PostgreSQL through psycopg 3: ``postgresql://user:password@host:5432/database``.

The URL goes to libpq as given (user name and password percent-encoded, see
``WarehouseURL.raw``), so its query parameters (``sslmode``, ``connect_timeout``, ``options``)
work as documented there. The session runs in autocommit mode, so one failed
query does not leave the connection in an aborted transaction. Queries go through the
extended query protocol (pipeline mode), so the server itself refuses a string holding
several statements.
"""

from __future__ import annotations

from typing import Any

from metricspec.run import cost
from metricspec.run.connections import QueryResult, WarehouseURL, import_driver
from metricspec.run.cost import ScanCost
from metricspec.run.drivers.base import DriverConnection, warehouse_error

#: Seconds to wait for the server unless the URL says ``?connect_timeout=``.
DEFAULT_CONNECT_TIMEOUT = 10


class PostgresConnection(DriverConnection):
    """A connection to a PostgreSQL server."""

    dialect = "postgres"

    def __init__(self, url: WarehouseURL, native: Any, errors: type[BaseException],
                 pipeline: bool = True) -> None:
        super().__init__(url)
        self.native = native
        self.query_errors = (errors,)
        self._pipeline = pipeline

    def _execute(self, sql: str) -> QueryResult:
        # Without parameters psycopg's `execute` uses the simple query protocol, which runs
        # every statement of a string. In pipeline mode it always uses the extended protocol
        # (PQsendQueryParams), and the server refuses a string of several statements.
        if not self._pipeline:
            return self._stream(sql)
        with self.native.pipeline() as pipeline, self.native.cursor() as cursor:
            cursor.execute(sql)
            pipeline.sync()
            if cursor.description is None:
                return QueryResult(columns=())
            columns = tuple(d.name for d in cursor.description)
            return QueryResult(columns=columns, rows=[tuple(r) for r in cursor.fetchall()])

    def _stream(self, sql: str) -> QueryResult:
        """The same through `stream` (extended protocol too), for libpq before version 14:
        only statements that return rows."""
        with self.native.cursor() as cursor:
            rows = [tuple(r) for r in cursor.stream(sql)]
            if cursor.description is None:
                return QueryResult(columns=())
            return QueryResult(columns=tuple(d.name for d in cursor.description), rows=rows)

    def estimate(self, sql: str) -> ScanCost | None:
        """The tables the planner would scan (``EXPLAIN (FORMAT JSON, VERBOSE)``: it runs
        nothing, and names schemas) and their sizes from ``pg_class``: rows (``reltuples``,
        the last ANALYZE's count) and bytes (pages × block size)."""
        self.check_one_statement(sql)
        plan = self._execute(f"EXPLAIN (FORMAT JSON, VERBOSE) {sql}").rows[0][0]
        scans = []
        for schema, table in cost.postgres_plan_tables(plan):
            with self.native.cursor() as cursor:
                cursor.execute(
                    "SELECT c.reltuples, c.relpages::bigint * current_setting('block_size')::int"
                    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = %s AND c.relname = %s", (schema, table))
                found = cursor.fetchone()
            rows = int(found[0]) if found and found[0] is not None and found[0] >= 0 else None
            size = int(found[1]) if found and found[1] is not None else None
            scans.append(cost.TableScan(f"{schema}.{table}", rows, size))
        return cost.ScanCost(tuple(scans), "PostgreSQL EXPLAIN and table sizes",
                             measured=False)

    def _close(self) -> None:
        self.native.close()


def open_connection(url: WarehouseURL, *, create: bool = False) -> PostgresConnection:
    """Connect to the PostgreSQL server named by ``url``.

    ``create`` is ignored: connecting never creates a server's database.

    Raises:
        WarehouseError: If psycopg is missing, the server refuses the connection, or
            authentication fails (the password is never part of the message).
    """
    psycopg = import_driver("psycopg", extra="postgres", what="PostgreSQL (psycopg)")
    kwargs: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in url.query:
        kwargs["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    try:
        native = psycopg.connect(url.raw, **kwargs)
    except psycopg.Error as exc:
        where = f"{url.host or 'localhost'}:{url.port or 5432}"
        message = f"could not connect to PostgreSQL at {where}: {exc}"
        raise warehouse_error(url, message, exc) from exc
    return PostgresConnection(url, native, psycopg.Error, psycopg.Pipeline.is_supported())
