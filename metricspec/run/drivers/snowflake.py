"""Snowflake through snowflake-connector-python.

``snowflake://user:password@account/database/schema?warehouse=WH&role=ROLE``; every query
parameter is passed to ``snowflake.connector.connect`` (``warehouse``, ``role``,
``authenticator``, ...).
"""

from __future__ import annotations

from typing import Any

from metricspec.run import cost
from metricspec.run.connections import QueryResult, WarehouseError, WarehouseURL, import_driver
from metricspec.run.cost import ScanCost
from metricspec.run.drivers.base import DriverConnection, warehouse_error

_HINT = "use snowflake://USER:PASSWORD@ACCOUNT/DATABASE/SCHEMA?warehouse=WH"


class SnowflakeConnection(DriverConnection):
    """A connection to a Snowflake account."""

    dialect = "snowflake"

    def __init__(self, url: WarehouseURL, native: Any, errors: type[BaseException]) -> None:
        super().__init__(url)
        self.native = native
        self.query_errors = (errors,)

    def _execute(self, sql: str) -> QueryResult:
        cursor = self.native.cursor()
        try:
            cursor.execute(sql)
            self._query_id = getattr(cursor, "sfqid", None)
            if not cursor.description:
                return QueryResult(columns=())
            columns = tuple(d[0] for d in cursor.description)
            return QueryResult(columns=columns, rows=[tuple(r) for r in cursor.fetchall()])
        finally:
            cursor.close()

    def _measure(self, sql: str) -> ScanCost | None:
        """``BYTES_SCANNED`` of the query just run, from the session's query history."""
        query_id, self._query_id = getattr(self, "_query_id", None), None
        if not query_id:
            return None
        cursor = self.native.cursor()
        try:
            cursor.execute("SELECT bytes_scanned, rows_produced FROM TABLE("
                           "information_schema.query_history_by_session()) "
                           "WHERE query_id = %s", (query_id,))
            row = cursor.fetchone()
            names = [d[0] for d in cursor.description or ()]
        finally:
            cursor.close()
        return cost.snowflake_history(dict(zip(names, row, strict=True))) if row else None

    def estimate(self, sql: str) -> ScanCost | None:
        """``EXPLAIN USING JSON``: the bytes the compiled plan assigns to its table scans."""
        self.check_one_statement(sql)
        cursor = self.native.cursor()
        try:
            cursor.execute(f"EXPLAIN USING JSON {sql}")
            row = cursor.fetchone()
        except self.query_errors as exc:
            raise self.error(f"snowflake could not plan the query: {self.describe(exc)}",
                             exc) from exc
        finally:
            cursor.close()
        return cost.snowflake_explain(str(row[0])) if row else None

    def _close(self) -> None:
        self.native.close()


def connect_arguments(url: WarehouseURL) -> dict[str, Any]:
    """Return the keyword arguments for ``snowflake.connector.connect``.

    Raises:
        WarehouseError: If the URL lacks the account, the database or the user.
    """
    if not url.host or not url.username or not 1 <= len(url.path) <= 2:
        raise WarehouseError(
            "Snowflake URL needs user, account and database (and optionally schema)",
            url=url.redacted,
            hint=_HINT,
        )
    kwargs: dict[str, Any] = {"user": url.username, "account": url.host, "database": url.path[0]}
    if url.password is not None:
        kwargs["password"] = url.password
    if len(url.path) == 2:
        kwargs["schema"] = url.path[1]
    kwargs.update(url.query)
    return kwargs


def open_connection(url: WarehouseURL, *, create: bool = False) -> SnowflakeConnection:
    """Connect to the Snowflake account named by ``url``.

    ``create`` is ignored: connecting never creates a server's database.

    Raises:
        WarehouseError: If the driver is missing, or the login or network fails (the
            password is never part of the message).
    """
    kwargs = connect_arguments(url)
    connector = import_driver("snowflake.connector", extra="snowflake", what="Snowflake")
    try:
        native = connector.connect(**kwargs)
    except connector.errors.Error as exc:
        raise warehouse_error(
            url, f"could not connect to Snowflake account {url.host}: {exc}", exc
        ) from exc
    return SnowflakeConnection(url, native, connector.errors.Error)
