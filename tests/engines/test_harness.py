"""Every engine gives DuckDB's answer to the same hand-written per-variant queries.

The sample tables (``harness/sample_data.py``) have NULLs, booleans, microsecond timestamps
and unicode strings. Counts must match exactly, sums and exact percentiles to 1e-9
relative. BigQuery's ``APPROX_QUANTILES`` is held to a rank tolerance instead: the value must
lie between DuckDB's exact quantiles at 0.94 and 0.96 (±1 percentile point).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness.base import Engine
from harness.compare import assert_rows_match
from harness.sample_data import sample_tables

from metricspec.run.connections import WarehouseError

pytestmark = pytest.mark.engines
SQL_DIR = Path(__file__).with_name("sql")
OTHERS = ("postgres", "spark", "snowflake", "bigquery")
P95_COLUMN = 11  # position of p95_latency in event_stats.*.sql


def query(name: str, dialect: str) -> str:
    """Read ``sql/<name>.<dialect>.sql``."""
    return (SQL_DIR / f"{name}.{dialect}.sql").read_text()


@pytest.fixture(scope="module")
def reference(duckdb_engine: Engine) -> Engine:
    """DuckDB with the sample tables loaded."""
    duckdb_engine.load(sample_tables())
    return duckdb_engine


@pytest.fixture(scope="module", params=OTHERS)
def loaded(request: pytest.FixtureRequest) -> Engine:
    """Each non-DuckDB engine with the sample tables loaded (once per engine)."""
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    engine.load(sample_tables())
    return engine


def test_unit_level_sufficient_statistics_match_duckdb(loaded: Engine, reference: Engine) -> None:
    expected = reference.run(query("unit_stats", "duckdb"))
    assert [r[0] for r in expected] == ["control", "treatment"]
    assert_rows_match(loaded.run(query("unit_stats", loaded.name)), expected)


def test_event_level_statistics_match_duckdb(loaded: Engine, reference: Engine) -> None:
    expected = reference.run(query("event_stats", "duckdb"))
    actual = loaded.run(query("event_stats", loaded.name))
    if loaded.name != "bigquery":
        assert_rows_match(actual, expected)
        return
    assert_rows_match(actual, expected, skip_columns=[P95_COLUMN])
    bounds = reference.run(
        "SELECT a.variant, quantile_cont(e.latency_ms, 0.94), quantile_cont(e.latency_ms, 0.96) "
        "FROM support.events e JOIN support.assignments a USING (user_id) "
        "GROUP BY a.variant ORDER BY a.variant"
    )
    for row, (variant, low, high) in zip(actual, bounds, strict=True):
        assert low <= row[P95_COLUMN] <= high, f"{variant}: approximate p95 outside [p94, p96]"


def test_unicode_null_and_boolean_groups_match_duckdb(loaded: Engine, reference: Engine) -> None:
    sql = (
        "SELECT channel, COUNT(*), COUNT(escalated), "
        "SUM(CASE WHEN escalated THEN 1 ELSE 0 END), SUM(CASE WHEN escalated IS NULL THEN 1 END) "
        "FROM support.events GROUP BY channel"
    )
    expected = reference.run(sql)
    assert len(expected) == 6  # five unicode channels and NULL
    assert_rows_match(loaded.run(sql), expected, ordered=False)


def test_values_round_trip_unchanged(loaded: Engine, reference: Engine) -> None:
    sql = (
        "SELECT u.user_id, u.country, u.is_premium, u.signup_ts, u.age, e.event_ts, e.latency_ms "
        "FROM support.users u LEFT JOIN support.events e ON e.user_id = u.user_id "
        "WHERE u.user_id <= 40 ORDER BY u.user_id, e.event_id"
    )
    expected = reference.run(sql)
    assert any(r[5] is None for r in expected) and any(r[1] is None for r in expected)
    assert_rows_match(loaded.run(sql), expected)


def test_bigquery_exact_percentile_is_analytic_only(
    bigquery_engine: Engine, reference: Engine
) -> None:
    bigquery_engine.load(sample_tables())
    actual = bigquery_engine.run(
        "SELECT DISTINCT a.variant, "
        "PERCENTILE_CONT(e.latency_ms, 0.95) OVER (PARTITION BY a.variant) "
        "FROM support.events AS e JOIN support.assignments AS a ON a.user_id = e.user_id "
        "ORDER BY a.variant"
    )
    expected = reference.run(
        "SELECT a.variant, quantile_cont(e.latency_ms, 0.95) FROM support.events e "
        "JOIN support.assignments a USING (user_id) GROUP BY a.variant ORDER BY a.variant"
    )
    assert_rows_match(actual, expected)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT IFF(true, 1, 2)", "Function not found: IFF"),
        ("SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY x) FROM UNNEST([1.0, 2.0]) AS x",
         "WITHIN"),
        ("SELECT APPROX_PERCENTILE(x, 0.5) FROM UNNEST([1.0, 2.0]) AS x",
         "Function not found: APPROX_PERCENTILE"),
        ("SELECT DATE_TRUNC('day', TIMESTAMP '2026-11-01 10:00:00')", "date part"),
    ],
    ids=["IFF", "WITHIN GROUP", "APPROX_PERCENTILE", "DATE_TRUNC string part"],
)  # fmt: skip
def test_zetasql_rejects_non_bigquery_sql(bigquery_engine: Engine, sql: str, message: str) -> None:
    with pytest.raises(WarehouseError, match=message):
        bigquery_engine.run(sql)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("duckdb", 'syntax error at or near "SELEC"'),
        ("postgres", 'syntax error at or near "SELEC"'),
        ("spark", "PARSE_SYNTAX_ERROR"),
        ("snowflake", "SELEC"),
        ("bigquery", "Syntax error"),
    ],
)
def test_bad_sql_raises_warehouse_error_with_engine_message(
    request: pytest.FixtureRequest, name: str, message: str
) -> None:
    engine: Engine = request.getfixturevalue(f"{name}_engine")
    with pytest.raises(WarehouseError, match=message):
        engine.run("SELEC 1")
    assert engine.run("SELECT 1") == [(1,)]  # the session survives the error
