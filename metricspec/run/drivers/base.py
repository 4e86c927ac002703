"""What every driver shares: one statement per call, error wrapping with secrets scrubbed,
closing, ``with`` support.

:meth:`DriverConnection.execute` refuses SQL that holds more than one statement before it
reaches the warehouse (counted on sqlglot's tokens in the backend's dialect, so a `;` inside
a string, identifier or comment does not count); drivers whose engine can refuse several
statements too (DuckDB's ``extract_statements``, PostgreSQL's extended query protocol) do so
as well.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable
from types import TracebackType
from typing import ClassVar, Self

import sqlglot
from sqlglot.errors import SqlglotError

from metricspec.run.connections import QueryResult, WarehouseError, WarehouseURL
from metricspec.run.cost import ScanCost

__all__ = ["DriverConnection", "count_statements", "scrub", "warehouse_error"]


def warehouse_error(
    url: WarehouseURL, message: str, cause: BaseException | None = None
) -> WarehouseError:
    """Build a :class:`WarehouseError` about ``url`` with its password scrubbed from the text."""
    return WarehouseError(scrub(message.strip(), url.secrets), url=url.redacted, cause=cause)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in ``text`` by ``***``, as a whole token: a short password such
    as ``p`` must not turn "port" into "***ort".

    >>> scrub("password 'hunter2' rejected", ["hunter2"])
    "password '***' rejected"
    >>> scrub("connection to port 1 failed for user p", ["p"])
    'connection to port 1 failed for user ***'
    """
    for secret in secrets:
        if secret:
            pattern = rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])"
            text = re.sub(pattern, "***", text)
    return text


def count_statements(sql: str, dialect: str) -> int:
    """Count the statements in ``sql``: runs of tokens between semicolons.

    >>> count_statements("SELECT ';' AS a; -- ; DROP TABLE t", "duckdb")
    1
    >>> count_statements("SELECT 1; DROP TABLE t", "postgres")
    2

    Raises:
        ValueError: If sqlglot cannot tokenize the text in ``dialect``.
    """
    try:
        tokens = sqlglot.tokenize(sql, read=dialect)
    except (SqlglotError, RecursionError, IndexError) as exc:
        raise ValueError(str(exc).strip().split("\n")[0]) from exc
    count, inside = 0, False
    for token in tokens:
        if token.token_type == sqlglot.TokenType.SEMICOLON:
            inside = False
        elif not inside:
            count, inside = count + 1, True
    return count


class DriverConnection(abc.ABC):
    """Shared behaviour of the drivers: error wrapping, closing, context management.

    Subclasses set :attr:`dialect` and :attr:`query_errors` and implement :meth:`_execute`
    and :meth:`_close`.
    """

    dialect: ClassVar[str]
    #: Driver exception types that mean "the warehouse rejected or failed this query".
    query_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, url: WarehouseURL) -> None:
        self.url = url
        self._closed = False
        self._last_cost: ScanCost | None = None

    @property
    def last_cost(self) -> ScanCost | None:
        """What the last query read, as the engine reported it (``None``: not reported)."""
        return self._last_cost

    def estimate(self, sql: str) -> ScanCost | None:
        """What ``sql`` would read, asked of the engine before running it (``None``: the
        engine cannot say). Drivers whose engine can, override this."""
        return None

    def _measure(self, sql: str) -> ScanCost | None:
        """What the query just run read; drivers whose engine says override this. A failure
        to read the figures is "not reported", never a failed query."""
        return None

    def execute(self, sql: str) -> QueryResult:
        """Run one SQL statement and return its rows.

        Raises:
            WarehouseError: If the connection is closed, ``sql`` is not exactly one
                statement, or the warehouse reports an error (the message is its own).
        """
        if self._closed:
            raise WarehouseError(f"{self.dialect} connection is closed", url=self.url.redacted)
        self.check_one_statement(sql)
        self._last_cost = None
        try:
            result = self._execute(sql)
        except self.query_errors as exc:
            raise self.error(f"{self.dialect} query failed: {self.describe(exc)}", exc) from exc
        try:
            self._last_cost = self._measure(sql)
        except Exception:
            self._last_cost = None
        return result

    def check_one_statement(self, sql: str) -> None:
        """Refuse ``sql`` unless it is exactly one statement (a trailing ``;`` is fine).

        Raises:
            WarehouseError: For no statement, several, or text that cannot be tokenized.
        """
        from metricspec.backend_help import sqlglot_dialect

        try:
            count = count_statements(sql, sqlglot_dialect(self.dialect))
        except ValueError as exc:
            raise WarehouseError(f"refused to run SQL that cannot be read as one "
                                 f"{self.dialect} statement: {exc}",
                                 url=self.url.redacted) from None
        if count != 1:
            raise WarehouseError(f"refused to run SQL holding {count} statements: metricspec "
                                 "runs exactly one statement per query", url=self.url.redacted)

    def close(self) -> None:
        """Release the connection; closing twice is harmless."""
        if not self._closed:
            self._closed = True
            self._close()

    def describe(self, exc: BaseException) -> str:
        """Return the warehouse's own message for a driver exception."""
        return str(exc)

    def error(self, message: str, cause: BaseException | None = None) -> WarehouseError:
        """Build a :class:`WarehouseError` for this connection with secrets removed."""
        return warehouse_error(self.url, message, cause)

    @abc.abstractmethod
    def _execute(self, sql: str) -> QueryResult: ...

    @abc.abstractmethod
    def _close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} {self.url.redacted} ({state})>"
