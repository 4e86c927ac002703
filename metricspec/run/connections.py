"""Open a warehouse connection from a URL and run SQL text on it.

One entry point, :func:`connect`, turns a URL into a :class:`Connection`; every driver lives in
its own module under ``metricspec.run.drivers`` (sharing ``drivers/base.py``) and is imported
only when its scheme is used,
so a missing optional driver is reported as a :class:`WarehouseError` with the ``pip install``
line that fixes it, never as a bare ``ImportError``.

Supported URLs (``metricspec`` backend name in brackets):

======================================================  ==========  ======================
URL                                                      dialect     driver (extra)
======================================================  ==========  ======================
``duckdb:///:memory:``, ``duckdb:///rel.duckdb``,        duckdb      duckdb (core)
``duckdb:////abs/path.duckdb``
``postgresql://user:pass@host:5432/db`` (``postgres://``) postgres    psycopg 3 (postgres)
``spark://local``, ``spark://local[2]``                  spark       pyspark (spark)
``spark://host:15002`` (a Spark Connect server)          spark       pyspark (spark)
``bigquery://project/dataset``                           bigquery    google-cloud-bigquery
``snowflake://user:pass@account/db/schema?warehouse=wh`` snowflake   snowflake-connector
======================================================  ==========  ======================

This module imports nothing outside the standard library (pyarrow only inside
:meth:`QueryResult.to_arrow`) but the backend definitions, which say which URL schemes select
which driver; it can be loaded anywhere a driver can.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable
from urllib.parse import parse_qsl, quote, unquote, urlsplit

if TYPE_CHECKING:
    from metricspec.run.cost import ScanCost

__all__ = [
    "SUPPORTED_SCHEMES",
    "Connection",
    "QueryResult",
    "WarehouseError",
    "WarehouseURL",
    "connect",
    "import_driver",
    "redact_url",
]

def _schemes() -> dict[str, str]:
    """URL scheme -> driver module, from the backend definitions in `backends/*.toml`."""
    from metricspec.backend_help import connectable

    return connectable()


#: URL scheme -> module under ``metricspec.run.drivers`` that opens it.
SUPPORTED_SCHEMES: Mapping[str, str] = _schemes()

def _examples() -> tuple[str, ...]:
    from metricspec.backend_help import url_examples

    return tuple(url_examples())


_EXAMPLES = _examples()

# scheme://user: — the password starts after the first `:` following the user name and
# runs to the LAST `@` of the URL, so `@`, `:`, `/` and `%XX` inside it stay hidden.
_USER_IN_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/:@?#]*:")
# An in-process engine master such as `local` or `local[2]` (Spark's) in place of a host.
_LOCAL_MASTER = re.compile(r"local\[[^\]]*\](?=$|[/?])", re.IGNORECASE)
#: Query parameters that hold credentials; their values are redacted like passwords.
SECRET_PARAMETERS = ("password", "token")
_SECRET_IN_QUERY = re.compile(rf"(?P<head>[?&;](?:{'|'.join(SECRET_PARAMETERS)})=)[^&;#]*")


class WarehouseError(Exception):
    """Report a failure to connect to a warehouse or to run SQL on it.

    Args:
        message: What went wrong; for query errors this carries the warehouse's own message.
        url: The connection URL with any password replaced by ``***``.
        cause: The original exception raised by the driver, if any.
        hint: One line telling the user how to fix it (an install command, a URL example).
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        cause: BaseException | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.cause = cause
        self.hint = hint
        if cause is not None:
            self.__cause__ = cause

    def __str__(self) -> str:
        text = self.message
        if self.url:
            text += f" [{self.url}]"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


@dataclass(frozen=True)
class QueryResult:
    """Hold the columns and rows one statement returned, as plain Python values.

    Attributes:
        columns: Output column names in order (duplicates are kept).
        rows: One tuple per row; NULL is ``None``, timestamps are ``datetime`` objects.
    """

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def to_arrow(self) -> Any:
        """Return the result as a ``pyarrow.Table`` (types inferred from the Python values).

        Raises:
            WarehouseError: If pyarrow is not installed.
        """
        pa = import_driver("pyarrow", extra="parquet", what="pyarrow")
        arrays = [pa.array([row[i] for row in self.rows]) for i in range(len(self.columns))]
        return pa.Table.from_arrays(arrays, names=list(self.columns))


@runtime_checkable
class Connection(Protocol):
    """An open connection to one warehouse; use it as a context manager."""

    @property
    def dialect(self) -> str:
        """The metricspec backend name: duckdb, postgres, spark, bigquery or snowflake."""
        ...

    def execute(self, sql: str) -> QueryResult:
        """Run one SQL statement and return its rows; raise :class:`WarehouseError` on failure."""
        ...

    def close(self) -> None:
        """Release the connection; closing twice is harmless."""
        ...

    @property
    def last_cost(self) -> ScanCost | None:
        """What the last query read, where the engine says (see `run.cost`)."""
        ...

    def estimate(self, sql: str) -> ScanCost | None:
        """What ``sql`` would read, before running it, where the engine can say."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@dataclass(frozen=True)
class WarehouseURL:
    """A parsed connection URL; ``redacted`` is safe to print.

    Attributes:
        scheme: Lower-case URL scheme.
        username: Decoded user name, or None.
        password: Decoded password, or None; never put it in a message.
        host: Host (or ``local[2]`` for Spark), or None.
        port: Port number, or None.
        path: Path segments without empty parts (database, schema, ...).
        query: Query parameters, last one wins.
        raw: The URL as given, with user name and password percent-encoded (contains the
            password).
        redacted: The URL with the password replaced by ``***``.
    """

    scheme: str
    username: str | None
    password: str | None
    host: str | None
    port: int | None
    path: tuple[str, ...]
    query: Mapping[str, str]
    raw: str
    redacted: str

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in an error message."""
        encoded = quote(self.password, safe="") if self.password else None
        candidates = (self.password, encoded, *(self.query.get(p) for p in SECRET_PARAMETERS))
        return tuple(dict.fromkeys(s for s in candidates if s))


def redact_url(url: str) -> str:
    """Return ``url`` with the password and any ``token=``/``password=`` values as ``***``.

    >>> redact_url("postgresql://ana:s3cret@db:5432/app")
    'postgresql://ana:***@db:5432/app'
    >>> redact_url("postgresql://alice:p@ss@db/app")
    'postgresql://alice:***@db/app'
    >>> redact_url("spark://cluster:15002?token=abc123&use_ssl=true")
    'spark://cluster:15002?token=***&use_ssl=true'
    >>> redact_url("duckdb:///:memory:")
    'duckdb:///:memory:'
    """
    split = _split_password(url)
    if split is not None:
        head, _, tail = split
        url = f"{head}***{tail}"
    return _SECRET_IN_QUERY.sub(lambda m: m.group("head") + "***", url)


def _split_password(url: str) -> tuple[str, str, str] | None:
    """Split ``url`` around its password: (``scheme://user:``, password, ``@host…``).

    The password is everything between the first `:` after the user name and the last `@`
    of the URL: an unencoded `@`, `:` or `/` in a password is part of it, and a URL whose
    password cannot be told from its host is redacted too much rather than too little.

    >>> _split_password("postgresql://alice:p@ss:w/rd@db:5432/app")
    ('postgresql://alice:', 'p@ss:w/rd', '@db:5432/app')
    >>> _split_password("spark://host:15002") is None
    True
    """
    head = _USER_IN_URL.match(url)
    at = url.rfind("@")
    if head is None or at < head.end():
        return None
    return url[: head.end()], url[head.end() : at], url[at:]


def _supported_hint() -> str:
    schemes = ", ".join(sorted({f"{s}://" for s in SUPPORTED_SCHEMES}))
    return f"supported schemes: {schemes}; for example {', '.join(_EXAMPLES)}"


def _unsupported(scheme: str) -> str:
    """Why a scheme is refused: a warehouse metricspec only compiles for says so."""
    from metricspec.backend_help import compile_only

    found = compile_only(scheme)
    if found is not None:
        title, name = found
        return (f"names {title}, which metricspec compiles for but cannot connect to "
                f"(compile-only: `metricspec compile --dialect {name}` writes its SQL; "
                "run it with the warehouse's own client)")
    return f"has an unsupported scheme {scheme!r}"


def parse_url(url: str) -> WarehouseURL:
    """Split a connection URL into its parts, rejecting unknown schemes.

    Raises:
        WarehouseError: If the URL has no scheme, an unsupported one, or a bad port.
    """
    redacted = redact_url(url)
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SUPPORTED_SCHEMES:
        reason = "has no scheme" if not sep else _unsupported(scheme)
        raise WarehouseError(f"connection URL {reason}", url=redacted, hint=_supported_hint())
    if _LOCAL_MASTER.match(rest):
        # ``local[2]`` is not a valid URL host (brackets mean IPv6), so parse it by hand; the
        # driver of the scheme decides what a local master means (only Spark has one).
        host, _, query = rest.partition("?")
        return WarehouseURL(
            scheme, None, None, host.rstrip("/"), None, (), dict(parse_qsl(query)), url, redacted
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        # urllib quotes the bad port, which may be a piece of a password holding `/`
        detail = f": {exc}" if _split_password(url) is None else (
            "; a password holding `/`, `?` or `#` must be percent-encoded")
        raise WarehouseError(
            f"connection URL is malformed{detail}", url=redacted, hint=_supported_hint()
        ) from None
    return WarehouseURL(
        scheme=scheme,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname,
        port=port,
        path=tuple(unquote(p) for p in parts.path.split("/") if p),
        query=dict(parse_qsl(parts.query)),
        raw=_encode_userinfo(url, parts.netloc),
        redacted=redacted,
    )


def _encode_userinfo(url: str, netloc: str) -> str:
    """``url`` with its user name and password percent-encoded, as every driver reads them.

    The password runs to the last `@` of the host part (as in Python), whereas libpq splits
    at the first: `alice:p@ss@db` would send the password `p` to the host `ss@db`.

    >>> _encode_userinfo("postgresql://alice:p@ss@db/app", "alice:p@ss@db")
    'postgresql://alice:p%40ss@db/app'
    """
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return url
    user, colon, password = userinfo.partition(":")
    encoded = quote(unquote(user), safe="") + colon + quote(unquote(password), safe="")
    start = url.index("://") + 3
    return url[:start] + encoded + "@" + hostport + url[start + len(netloc):]


def import_driver(module: str, *, extra: str, what: str) -> ModuleType:
    """Import an optional driver module, or explain how to install it.

    Args:
        module: Dotted module name, e.g. ``psycopg``.
        extra: The metricspec extra that installs it, e.g. ``postgres``.
        what: How to name the driver in the message.

    Raises:
        WarehouseError: If the module cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise WarehouseError(
            f"the {what} driver is not installed (cannot import {module}: {exc})",
            cause=exc,
            hint=f"pip install 'metricspec[{extra}]'",
        ) from exc


def connect(url: str, *, create: bool = False) -> Connection:
    """Open a connection to the warehouse named by ``url``.

    Args:
        url: A connection URL; see the module docstring for the supported forms.
        create: Allow an embedded database (a DuckDB file) that does not exist yet to be
            created. Commands that read a warehouse leave it off, so a mistyped path is an
            error naming the path rather than a new, empty warehouse.

    Returns:
        An open :class:`Connection`; close it, or use it in a ``with`` block.

    Raises:
        WarehouseError: For an unsupported or malformed URL, a missing optional driver,
            or a refused connection or failed authentication.

    >>> with connect("duckdb:///:memory:") as conn:
    ...     conn.execute("SELECT 1 + 1 AS two").rows
    [(2,)]
    """
    parsed = parse_url(url)
    module = importlib.import_module(f"metricspec.run.drivers.{SUPPORTED_SCHEMES[parsed.scheme]}")
    connection: Connection = module.open_connection(parsed, create=create)
    return connection
