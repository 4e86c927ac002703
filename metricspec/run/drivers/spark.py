"""Apache Spark through pyspark: a local session or a Spark Connect server.

``spark://local`` and ``spark://local[N]`` start (or reuse) an in-process session with
``spark.sql.session.timeZone=UTC``, ``spark.ui.enabled=false`` and
``spark.sql.shuffle.partitions=2``; ``spark://host:port`` connects to a Spark Connect server
(``sc://host:port``; port 15002 by default; needs ``pip install 'pyspark[connect]'``).
Query parameters are extra Spark settings, e.g. ``spark://local[2]?spark.sql.warehouse.dir=/tmp/wh``,
except the Spark Connect channel parameters (``token``, ``use_ssl``, ``user_id``,
``session_id``), which go into the ``sc://`` URL.

Spark's ``TIMESTAMP`` is an instant: it comes back as an aware ``datetime`` in UTC (pyspark
itself would give a naive local time). ``TIMESTAMP_NTZ`` comes back naive.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import re
from typing import Any

from metricspec.run.connections import QueryResult, WarehouseError, WarehouseURL, import_driver
from metricspec.run.drivers.base import DriverConnection, warehouse_error

#: Settings every session gets; the URL's query parameters override them.
DEFAULT_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "2",
}
#: Extra settings for ``local`` sessions: no web UI, and the driver listens on loopback only.
LOCAL_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
DEFAULT_CONNECT_PORT = 15002
#: URL parameters that configure the Spark Connect channel rather than the session.
CONNECT_PARAMS = ("token", "use_ssl", "user_id", "session_id")
#: Attempts to reach a Spark Connect server before giving up (pyspark retries for 10 minutes).
CONNECT_PROBE_RETRIES = 3
_LOCAL_MASTER = re.compile(r"local(\[(\d+|\*)\])?")


class SparkConnection(DriverConnection):
    """A Spark SQL session (local or Spark Connect)."""

    dialect = "spark"

    def __init__(
        self, url: WarehouseURL, session: Any, errors: tuple[type[BaseException], ...], owned: bool
    ) -> None:
        super().__init__(url)
        self.native = session
        self.query_errors = errors
        self._owned = owned

    def _execute(self, sql: str) -> QueryResult:
        frame = self.native.sql(sql)
        instants = [
            i for i, f in enumerate(frame.schema.fields) if f.dataType.typeName() == "timestamp"
        ]
        rows = []
        for row in frame.collect():
            values = list(row)
            for i in instants:
                if isinstance(values[i], dt.datetime) and values[i].tzinfo is None:
                    # pyspark built a naive datetime in the local time zone of this process.
                    values[i] = values[i].astimezone(dt.UTC)
            rows.append(tuple(values))
        return QueryResult(columns=tuple(frame.columns), rows=rows)

    def describe(self, exc: BaseException) -> str:
        """Return Spark's message without the JVM stack trace."""
        return without_stack_trace(str(exc))

    def _close(self) -> None:
        if self._owned:
            self.native.stop()


def without_stack_trace(message: str) -> str:
    r"""Cut a JVM stack trace (and pyspark's JVM-stacktrace section) off an error message.

    >>> without_stack_trace("boom\n\tat org.Foo.bar(Foo.scala:1)\n\tat x")
    'boom'
    """
    for marker in ("\n\tat ", "\nJVM stacktrace:"):
        message = message.split(marker, 1)[0]
    return message.strip()


def _query_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = []
    for module, name in (("pyspark.errors", "PySparkException"), ("py4j.protocol", "Py4JError")):
        # Missing on old pyspark (PySparkException) or a Connect-only client (py4j).
        with contextlib.suppress(ImportError, AttributeError):
            errors.append(getattr(importlib.import_module(module), name))
    return tuple(errors)


def _require_spark_connect(url: WarehouseURL) -> None:
    """Check the Spark Connect client's own dependencies (grpcio, zstandard, ...)."""
    try:
        importlib.import_module("pyspark.sql.connect.session")
    except (ImportError, SystemExit) as exc:  # pyspark may sys.exit() when they are missing
        raise WarehouseError(
            f"the Spark Connect client cannot be loaded: {exc or 'missing dependencies'}",
            url=url.redacted,
            cause=exc,
            hint="pip install 'pyspark[connect]'",
        ) from exc


def _probe(session: Any, conf: dict[str, str]) -> None:
    """Apply ``conf`` to a Spark Connect session and run ``SELECT 1``, retrying briefly.

    Spark Connect is lazy and pyspark retries an unreachable server for ten minutes; this
    makes a wrong host or port fail within seconds, then restores pyspark's retry policy.
    """
    from pyspark.sql.connect.client.retries import DefaultPolicy

    client = session.client
    policies = client.get_retry_policies()
    client.set_retry_policies([DefaultPolicy(max_retries=CONNECT_PROBE_RETRIES, max_backoff=2000)])
    try:
        for key, value in conf.items():
            session.conf.set(key, value)
        session.sql("SELECT 1").collect()
    except BaseException:
        with contextlib.suppress(Exception):
            session.stop()  # still with short retries: a dead session must not linger
        raise
    client.set_retry_policies(policies)


def open_connection(url: WarehouseURL, *, create: bool = False) -> SparkConnection:
    """Start a local Spark session or connect to a Spark Connect server.

    ``create`` is ignored: connecting never creates a server's database.

    Raises:
        WarehouseError: If pyspark is missing, Java cannot start, or the server is unreachable.
    """
    import_driver("pyspark.sql", extra="spark", what="Spark (pyspark)")
    from pyspark.sql import SparkSession

    errors = _query_errors()
    host = url.host or "local"
    local = host == "local" or host.startswith("local[")
    if local and not _LOCAL_MASTER.fullmatch(host):
        raise WarehouseError(
            f"bad local Spark master {host!r}",
            url=url.redacted,
            hint="use spark://local, spark://local[N] or spark://local[*]",
        )
    settings = {k: v for k, v in url.query.items() if k not in CONNECT_PARAMS}
    conf = {**DEFAULT_CONF, **(LOCAL_CONF if local else {}), **settings}
    if local:
        builder = SparkSession.builder.master(host).appName("metricspec")
        for key, value in conf.items():
            builder = builder.config(key, value)
        hint = "a local Spark session needs Java 17 or later on PATH or JAVA_HOME"
    else:  # a Connect session gets its settings in _probe, with short retries
        _require_spark_connect(url)
        channel = "".join(f";{k}={url.query[k]}" for k in CONNECT_PARAMS if k in url.query)
        remote = f"sc://{host}:{url.port or DEFAULT_CONNECT_PORT}"
        builder = SparkSession.builder.remote(f"{remote}/{channel}" if channel else remote)
        hint = f"is a Spark Connect server listening on {remote}?"
    existing = SparkSession.getActiveSession()
    startup_errors: tuple[type[BaseException], ...] = (*errors, RuntimeError, OSError)
    try:
        session = builder.getOrCreate()
        if not local:
            _probe(session, conf)
    except startup_errors as exc:
        message = f"could not start Spark ({host}): {without_stack_trace(str(exc))}"
        error = warehouse_error(url, message, exc)
        error.hint = hint
        raise error from exc
    if local:
        session.sparkContext.setLogLevel("ERROR")
    return SparkConnection(url, session, errors, owned=existing is None)
