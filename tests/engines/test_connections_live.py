"""The product connectors against live engines: logins, refusals, secrets kept out of errors."""

from __future__ import annotations

import pytest
from harness.base import Engine
from harness.postgres_engine import PostgresEngine

from metricspec.run.connections import WarehouseError, connect

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def analyst_port(postgres_engine: PostgresEngine) -> int:
    """A password-protected role (non-superusers log in with scram-sha-256)."""
    postgres_engine.run("DROP ROLE IF EXISTS analyst")
    postgres_engine.run(f"CREATE ROLE analyst LOGIN PASSWORD '{PASSWORD}'")
    return postgres_engine.server.port


def test_wrong_password_is_an_authentication_error_without_the_password(analyst_port: int) -> None:
    url = f"postgresql://analyst:wrong-hunter2@127.0.0.1:{analyst_port}/postgres"
    with pytest.raises(
        WarehouseError, match='password authentication failed for user "analyst"'
    ) as e:
        connect(url)
    assert "wrong-hunter2" not in str(e.value) and "wrong-hunter2" not in repr(e.value)
    assert e.value.url == f"postgresql://analyst:***@127.0.0.1:{analyst_port}/postgres"


def test_query_error_carries_postgres_message_and_hides_password(analyst_port: int) -> None:
    url = f"postgresql://analyst:{PASSWORD}@127.0.0.1:{analyst_port}/postgres"
    with connect(url) as conn:
        assert conn.execute("SELECT current_user").rows == [("analyst",)]
        with pytest.raises(
            WarehouseError, match='relation "no_such_table" does not exist'
        ) as caught:
            conn.execute("SELECT * FROM no_such_table")
        assert PASSWORD not in str(caught.value)
        assert conn.execute("SELECT 1").rows == [(1,)]  # autocommit: no aborted transaction


def test_spark_query_error_has_no_jvm_stack_trace(spark_engine: Engine) -> None:
    with pytest.raises(WarehouseError, match="TABLE_OR_VIEW_NOT_FOUND") as caught:
        spark_engine.run("SELECT * FROM support.no_such_table")
    assert "\tat org.apache" not in str(caught.value)
