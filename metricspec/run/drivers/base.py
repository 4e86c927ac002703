"""What every driver shares: error wrapping with secrets scrubbed, closing, ``with`` support."""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable
from types import TracebackType
from typing import ClassVar, Self

from metricspec.run.connections import QueryResult, WarehouseError, WarehouseURL

__all__ = ["DriverConnection", "scrub", "warehouse_error"]


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

    def execute(self, sql: str) -> QueryResult:
        """Run one SQL statement and return its rows.

        Raises:
            WarehouseError: If the connection is closed or the warehouse reports an error;
                the message is the warehouse's own.
        """
        if self._closed:
            raise WarehouseError(f"{self.dialect} connection is closed", url=self.url.redacted)
        try:
            return self._execute(sql)
        except self.query_errors as exc:
            raise self.error(f"{self.dialect} query failed: {self.describe(exc)}", exc) from exc

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
