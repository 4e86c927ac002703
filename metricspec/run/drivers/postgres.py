"""PostgreSQL through psycopg 3: ``postgresql://user:password@host:5432/database``.

The URL goes to libpq unchanged, so its query parameters (``sslmode``, ``connect_timeout``,
``options``) work as documented there. The session runs in autocommit mode, so one failed
query does not leave the connection in an aborted transaction. Queries go through the
extended query protocol, so the server itself refuses a string holding several statements.
"""

from __future__ import annotations

from typing import Any

from metricspec.run.connections import QueryResult, WarehouseURL, import_driver
from metricspec.run.drivers.base import DriverConnection, warehouse_error

#: Seconds to wait for the server unless the URL says ``?connect_timeout=``.
DEFAULT_CONNECT_TIMEOUT = 10
#: Rows fetched per round trip when libpq supports chunked results (version 17).
STREAM_CHUNK = 1000


def _libpq_version() -> int:
    psycopg = import_driver("psycopg", extra="postgres", what="PostgreSQL (psycopg)")
    version: int = psycopg.pq.version()
    return version


class PostgresConnection(DriverConnection):
    """A connection to a PostgreSQL server."""

    dialect = "postgres"

    def __init__(self, url: WarehouseURL, native: Any, errors: type[BaseException]) -> None:
        super().__init__(url)
        self.native = native
        self.query_errors = (errors,)

    def _execute(self, sql: str) -> QueryResult:
        # `stream` sends the query with the extended protocol (PQsendQueryParams), which the
        # server refuses if it holds more than one statement; `execute` without parameters
        # would use the simple protocol, which runs every statement of the string.
        with self.native.cursor() as cursor:
            rows = [tuple(r) for r in cursor.stream(sql, size=self._chunk)]
            if cursor.description is None:
                return QueryResult(columns=())
            columns = tuple(d.name for d in cursor.description)
            return QueryResult(columns=columns, rows=rows)

    @property
    def _chunk(self) -> int:
        """Rows per round trip: libpq 17 fetches in chunks, older versions row by row."""
        return STREAM_CHUNK if _libpq_version() >= 170000 else 1

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
    return PostgresConnection(url, native, psycopg.Error)
