"""metricspec.run.connections without a server: URLs, errors, hints, redaction, DuckDB.

Live failures (authentication, query errors on PostgreSQL, Spark, fakesnow, zetasql) are in
``tests/engines``.
"""

from __future__ import annotations

import datetime as dt
import socket
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from metricspec.run.connections import (
    Connection,
    QueryResult,
    WarehouseError,
    connect,
    parse_url,
    redact_url,
)
from metricspec.run.drivers.snowflake import connect_arguments


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgresql://ana:s3cret@db:5432/app", "postgresql://ana:***@db:5432/app"),
        ("snowflake://ana:p%40ss@acct/db/sch?warehouse=wh", "snowflake://ana:***@acct/db/sch?warehouse=wh"),
        ("postgresql://ana@db/app", "postgresql://ana@db/app"),
        ("duckdb:///:memory:", "duckdb:///:memory:"),
        ("bigquery://project/dataset", "bigquery://project/dataset"),
        ("spark://cluster:15002?token=abc&use_ssl=true", "spark://cluster:15002?token=***&use_ssl=true"),
    ],
)  # fmt: skip
def test_redact_url_hides_only_the_password(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_parse_url_decodes_user_and_password() -> None:
    url = parse_url("postgresql://ana%20b:p%40ss@db.example:6543/app?sslmode=require")
    assert (url.username, url.password, url.host, url.port) == ("ana b", "p@ss", "db.example", 6543)
    assert url.path == ("app",) and url.query == {"sslmode": "require"}
    assert "p@ss" not in url.redacted


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("spark://local[2]", "local[2]", None),
        ("spark://local", "local", None),
        ("spark://localhost:15002?token=t", "localhost", 15002),
        ("spark://local[*]?spark.sql.warehouse.dir=/tmp/wh", "local[*]", None),
    ],
)
def test_spark_urls_tell_local_masters_from_connect_servers(
    url: str, host: str, port: int | None
) -> None:
    parsed = parse_url(url)
    assert (parsed.host, parsed.port) == (host, port)
    assert "t" not in parsed.redacted.partition("token=")[2].split("&")[0].replace("***", "")


@pytest.mark.parametrize("url", ["mysql://root:hunter2@db/app", "sqlite:///x.db"])
def test_unsupported_scheme_lists_the_supported_ones(url: str) -> None:
    with pytest.raises(WarehouseError, match="unsupported scheme") as caught:
        connect(url)
    text = str(caught.value)
    for scheme in ("duckdb://", "postgresql://", "spark://", "bigquery://", "snowflake://"):
        assert scheme in text
    assert "hunter2" not in text


def test_url_without_scheme_is_rejected_with_examples() -> None:
    with pytest.raises(WarehouseError, match="has no scheme") as caught:
        connect("localhost:5432/app")
    assert (
        caught.value.hint and "postgresql://user:password@host:5432/database" in caught.value.hint
    )


def test_malformed_port_is_a_warehouse_error_without_password() -> None:
    with pytest.raises(WarehouseError, match="malformed") as caught:
        connect("postgresql://ana:hunter2@db:99999/app")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        ("postgresql://ana:hunter2@127.0.0.1/app", "psycopg", "postgres"),
        ("spark://local[2]", "pyspark.sql", "spark"),
        ("bigquery://project/dataset", "google.cloud.bigquery", "bigquery"),
        ("snowflake://ana:hunter2@acct/db/schema", "snowflake.connector", "snowflake"),
    ],
)
def test_missing_driver_names_the_pip_extra(
    monkeypatch: pytest.MonkeyPatch, url: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(WarehouseError, match="driver is not installed") as caught:
        connect(url)
    assert caught.value.hint == f"pip install 'metricspec[{extra}]'"
    assert f"pip install 'metricspec[{extra}]'" in str(caught.value)
    assert isinstance(caught.value.cause, ImportError)
    assert "hunter2" not in str(caught.value)


def test_refused_postgres_connection_names_the_server_not_the_password() -> None:
    port = closed_port()
    with pytest.raises(WarehouseError) as caught:
        connect(f"postgresql://ana:hunter2@127.0.0.1:{port}/app?connect_timeout=5")
    text = str(caught.value)
    assert f"could not connect to PostgreSQL at 127.0.0.1:{port}" in text
    assert "refused" in text.lower()
    assert "hunter2" not in text and "hunter2" not in repr(caught.value)
    assert caught.value.url == f"postgresql://ana:***@127.0.0.1:{port}/app?connect_timeout=5"
    assert type(caught.value.cause).__name__ == "OperationalError"


def test_duckdb_round_trips_values_and_reports_its_own_errors() -> None:
    with connect("duckdb:///:memory:") as conn:
        assert isinstance(conn, Connection) and conn.dialect == "duckdb"
        result = conn.execute(
            "SELECT 1::BIGINT AS n, 'Côte' AS s, NULL AS z, TRUE AS b, "
            "TIMESTAMP '2026-11-01 10:00:00.5' AS ts, 0.5::DOUBLE AS x"
        )
        assert result.columns == ("n", "s", "z", "b", "ts", "x")
        assert result.rows == [
            (1, "Côte", None, True, dt.datetime(2026, 11, 1, 10, 0, 0, 500000), 0.5)
        ]
        with pytest.raises(WarehouseError, match='syntax error at or near "SELEC"') as caught:
            conn.execute("SELEC 1")
        assert caught.value.url == "duckdb:///:memory:"
        assert conn.execute("SELECT 2").rows == [(2,)]  # still usable
    with pytest.raises(WarehouseError, match="closed"):
        conn.execute("SELECT 1")
    conn.close()  # twice is fine


def test_duckdb_paths_follow_the_sqlalchemy_convention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with connect("duckdb:///relative.duckdb", create=True) as conn:
        conn.execute("CREATE TABLE t AS SELECT 1 AS a")
    absolute = tmp_path / "sub" / "absolute.duckdb"
    absolute.parent.mkdir()
    with connect(f"duckdb:///{absolute}", create=True) as conn:  # four slashes: duckdb:////…
        conn.execute("CREATE TABLE t AS SELECT 1 AS a")
    assert (tmp_path / "relative.duckdb").exists() and absolute.exists()
    with connect(f"duckdb:///{absolute}?read_only=true") as conn:
        assert conn.execute("SELECT a FROM t").rows == [(1,)]
        with pytest.raises(WarehouseError, match="read-only"):
            conn.execute("INSERT INTO t VALUES (2)")


def test_query_result_to_arrow_keeps_duplicate_columns() -> None:
    table = QueryResult(columns=("n", "n"), rows=[(1, 2.5), (None, 3.0)]).to_arrow()
    assert table.column_names == ["n", "n"]
    assert table.column(0).to_pylist() == [1, None]


def test_spark_rejects_a_bad_local_master_before_starting_java() -> None:
    pytest.importorskip("pyspark")
    with pytest.raises(WarehouseError, match="bad local Spark master") as caught:
        connect("spark://local[two]")
    assert caught.value.hint and "spark://local[N]" in caught.value.hint


def _stub_modules(monkeypatch: pytest.MonkeyPatch, modules: dict[str, dict[str, Any]]) -> None:
    for name, attributes in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        monkeypatch.setitem(sys.modules, name, module)


class _APIError(Exception):
    pass


class _AuthError(Exception):
    pass


def test_bigquery_url_maps_to_client_project_and_default_dataset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: dict[str, Any] = {}

    class Row:
        def values(self) -> tuple[Any, ...]:
            return (2, "x")

    class Rows(list[Row]):
        schema = (types.SimpleNamespace(name="n"), types.SimpleNamespace(name="s"))

    class Client:
        def __init__(self, project: str) -> None:
            calls["project"] = project

        def query(self, sql: str, job_config: Any, location: str | None) -> Any:
            if "SELEC " in sql:
                raise _APIError("400 Syntax error: Unexpected identifier SELEC")
            dry = getattr(job_config, "dry_run", False)
            if not dry:
                calls.update(sql=sql, dataset=job_config.default_dataset, location=location)
            # the job resource as the REST API returns it (jobs.get), trimmed
            resource = {"configuration": {"dryRun": dry}, "statistics": {
                "totalBytesProcessed": "10485760", "query": {
                    "totalBytesProcessed": "10485760",
                    **({} if dry else {"totalBytesBilled": "10485760"}),
                    "referencedTables": [{"projectId": "my-project", "datasetId": "analytics",
                                          "tableId": "messages"}]}}}
            return types.SimpleNamespace(result=lambda: Rows([Row()]),
                                         to_api_repr=lambda: resource)

        def close(self) -> None:
            calls["closed"] = True

    _stub_modules(
        monkeypatch,
        {
            "google.cloud.bigquery": {
                "Client": Client,
                "QueryJobConfig": lambda **settings: types.SimpleNamespace(**settings),
            },
            "google.api_core.exceptions": {"GoogleAPIError": _APIError},
            "google.auth.exceptions": {"GoogleAuthError": _AuthError},
        },
    )
    with connect("bigquery://my-project/analytics?location=EU") as conn:
        assert conn.dialect == "bigquery"
        assert conn.execute("SELECT 2 AS n, 'x' AS s") == QueryResult(("n", "s"), [(2, "x")])
        cost = conn.last_cost
        assert cost is not None and cost.measured
        assert (cost.bytes, cost.bytes_billed) == (10485760, 10485760)
        assert [s.table for s in cost.scans] == ["my-project.analytics.messages"]
        estimate = conn.estimate("SELECT 2 AS n, 'x' AS s")
        assert estimate is not None and not estimate.measured and estimate.bytes == 10485760
        assert estimate.method == "BigQuery dry run"
        with pytest.raises(WarehouseError, match="bigquery query failed: 400 Syntax error"):
            conn.execute("SELEC 1")
    assert calls == {
        "project": "my-project",
        "sql": "SELECT 2 AS n, 'x' AS s",
        "dataset": "my-project.analytics",
        "location": "EU",
        "closed": True,
    }


@pytest.mark.parametrize("url", ["bigquery://project", "bigquery:///dataset", "bigquery://p/d/x"])
def test_bigquery_url_needs_project_and_dataset(url: str) -> None:
    with pytest.raises(WarehouseError, match="needs a project and a dataset"):
        connect(url)


def test_snowflake_url_maps_to_connector_arguments() -> None:
    url = parse_url(
        "snowflake://ana:p%40ss@xy12345.eu-west-1/ANALYTICS/SUPPORT?warehouse=WH&role=R"
    )
    assert connect_arguments(url) == {
        "user": "ana",
        "password": "p@ss",
        "account": "xy12345.eu-west-1",
        "database": "ANALYTICS",
        "schema": "SUPPORT",
        "warehouse": "WH",
        "role": "R",
    }
    with pytest.raises(WarehouseError, match="needs user, account and database"):
        connect_arguments(parse_url("snowflake://acct/db"))


def test_snowflake_login_failure_never_shows_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    class Error(Exception):
        pass

    def refuse(**kwargs: Any) -> None:
        # A driver that echoes its arguments must still not leak the password.
        raise Error(f"250001: Incorrect username or password was specified: {kwargs}")

    errors = types.SimpleNamespace(Error=Error)
    _stub_modules(monkeypatch, {"snowflake.connector": {"connect": refuse, "errors": errors}})
    with pytest.raises(
        WarehouseError, match="could not connect to Snowflake account acct"
    ) as caught:
        connect("snowflake://ana:hunter2@acct/db/schema")
    assert "hunter2" not in str(caught.value) and "Incorrect username" in str(caught.value)


@pytest.mark.parametrize("url, host, path", [
    ("spark://local[2]", "local[2]", ()),
    ("spark://local[*]/", "local[*]", ()),
    ("spark://local", "local", ()),
    ("postgresql://local/db", "local", ("db",)),  # a host named `local` is just a host
])
def test_local_master_hosts_parse_for_any_scheme(url: str, host: str,
                                                 path: tuple[str, ...]) -> None:
    parsed = parse_url(url)
    assert (parsed.host, parsed.path) == (host, path)
