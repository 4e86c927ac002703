"""One statement per execution, on every driver, and by the engine itself where it can.

`DriverConnection.execute` counts statements on sqlglot's tokens in the backend's dialect
and refuses anything but exactly one before the warehouse sees it; DuckDB then runs the one
statement its own parser found, and PostgreSQL receives the query through the extended
protocol, which the server refuses for several statements. Both layers are tested on real
DuckDB and PostgreSQL, the second with the first switched off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from security_support import CANARIES, Postgres, duckdb_canaries, duckdb_counts, postgres_reset

from metricspec.run.connections import WarehouseError, connect, parse_url
from metricspec.run.drivers.base import DriverConnection, count_statements
from metricspec.run.drivers.bigquery import BigQueryConnection
from metricspec.run.drivers.snowflake import SnowflakeConnection
from metricspec.run.drivers.spark import SparkConnection

SEVERAL = [
    "SELECT 1; DROP TABLE canary",
    "SELECT 1;DROP TABLE canary;",
    "SELECT 1 AS a\n;\nDELETE FROM canary",
    "SELECT ';' AS a; DROP TABLE t",
    "SELECT 1 /* ; */; DROP TABLE users -- ;",
]
ONE = [
    "SELECT 1",
    "SELECT 1;",
    "SELECT 1 ; ",
    "SELECT ';' AS a -- ; DROP TABLE canary",
    "SELECT 1 /* ; DROP TABLE canary; */",
    "SELECT '; DROP TABLE t; --' AS a",
    'SELECT 1 AS "a;b"',
]


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark", "bigquery", "snowflake"])
def test_statements_are_counted_on_tokens(dialect: str) -> None:
    for sql in ONE:
        assert count_statements(sql, dialect) == 1, (dialect, sql)
    for sql in SEVERAL:
        assert count_statements(sql, dialect) == 2, (dialect, sql)
    assert count_statements("", dialect) == 0
    assert count_statements("-- nothing", dialect) == 0


# ---------------------------------------------------------------- DuckDB


@pytest.fixture()
def database(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    duckdb_canaries(path)
    return path


def test_duckdb_refuses_several_statements(database: Path) -> None:
    with connect(f"duckdb:///{database}") as conn:
        for sql in SEVERAL:
            with pytest.raises(WarehouseError, match="statements"):
                conn.execute(sql)
        for sql in ONE:
            assert len(conn.execute(sql).rows) == 1
        with pytest.raises(WarehouseError, match="0 statements"):
            conn.execute("-- nothing to run")
    assert duckdb_counts(database) == CANARIES


def test_duckdb_engine_refuses_on_its_own(database: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """With the token count switched off, DuckDB's `extract_statements` still refuses."""
    monkeypatch.setattr(DriverConnection, "check_one_statement", lambda self, sql: None)
    with connect(f"duckdb:///{database}") as conn:
        for sql in SEVERAL:
            with pytest.raises(WarehouseError, match="statements"):
                conn.execute(sql)
        assert conn.execute("SELECT 1;").rows == [(1,)]
    assert duckdb_counts(database) == CANARIES


# ---------------------------------------------------------------- PostgreSQL


def test_postgres_refuses_several_statements(postgres: Postgres) -> None:
    postgres_reset(postgres.url, [])
    mark = postgres.mark()
    with connect(postgres.url) as conn:
        for sql in SEVERAL:
            with pytest.raises(WarehouseError, match="statements"):
                conn.execute(sql)
        for sql in ONE:
            assert len(conn.execute(sql).rows) == 1
        assert conn.execute("SELECT COUNT(*) AS n FROM canary").rows == [(3,)]
    assert postgres.statements_since(mark) == [*ONE, "SELECT COUNT(*) AS n FROM canary"]


def test_postgres_server_refuses_on_its_own(postgres: Postgres,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """With the token count switched off, the extended protocol still refuses: the server
    answers "cannot insert multiple commands into a prepared statement"."""
    postgres_reset(postgres.url, [])
    monkeypatch.setattr(DriverConnection, "check_one_statement", lambda self, sql: None)
    with connect(postgres.url) as conn:
        for sql in SEVERAL:
            with pytest.raises(WarehouseError, match="multiple commands"):
                conn.execute(sql)
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").rows[0][0] for t in CANARIES}
    assert counts == CANARIES


def test_postgres_results_and_commands(postgres: Postgres) -> None:
    """Through the extended protocol: large results, empty results, commands, `%` in text."""
    postgres_reset(postgres.url, [])
    with connect(postgres.url) as conn:
        rows = conn.execute("SELECT g AS n, 'a%s' AS t FROM generate_series(1, 2500) g").rows
        assert len(rows) == 2500 and rows[-1] == (2500, "a%s")
        empty = conn.execute("SELECT 1 AS x WHERE FALSE")
        assert (empty.columns, empty.rows) == (("x",), [])
        assert conn.execute("CREATE TABLE made (x INTEGER)").columns == ()
        with pytest.raises(WarehouseError, match="division by zero"):
            conn.execute("SELECT 1 / 0")
        assert conn.execute("SELECT 2 AS two").rows == [(2,)]  # still usable


# ---------------------------------------------------------------- every other driver


class _Native:
    """A driver object that fails the test if anything reaches it."""

    def __getattr__(self, name: str) -> Any:
        pytest.fail(f"the SQL reached the driver ({name})")


@pytest.mark.parametrize(("kind", "url", "args"), [
    (SparkConnection, "spark://local", ((), False)),
    (BigQueryConnection, "bigquery://p/d", (None, ())),
    (SnowflakeConnection, "snowflake://u:pw@acct/db", (Exception,)),
])
def test_every_driver_refuses_before_the_warehouse(kind: type[DriverConnection], url: str,
                                                   args: tuple[Any, ...]) -> None:
    conn = kind(parse_url(url), _Native(), *args)  # type: ignore[call-arg]
    for sql in SEVERAL:
        with pytest.raises(WarehouseError, match="statements") as caught:
            conn.execute(sql)
        assert "pw" not in str(caught.value)
