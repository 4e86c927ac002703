"""What a query reads, asked of live engines (`metricspec.run.cost`): PostgreSQL's planner and
table sizes; fakesnow, which keeps no query history, reports nothing rather than failing."""

from __future__ import annotations

import pyarrow as pa
import pytest
from harness.base import Engine
from harness.postgres_engine import PostgresEngine

from metricspec.run import cost
from metricspec.run.connections import connect
from metricspec.run.execute import execute_costed

pytestmark = pytest.mark.engines

ROWS = 20_000
EVENTS = pa.table({"id": pa.array(range(ROWS), pa.int64()),
                   "g": pa.array([i % 3 for i in range(ROWS)], pa.int64())})
QUERY = "SELECT g, count(*) AS n FROM cost_probe.events WHERE id > 5 GROUP BY g"


def test_postgres_estimates_rows_and_bytes_of_the_tables_it_scans(
        postgres_engine: PostgresEngine) -> None:
    postgres_engine.load({"cost_probe.events": EVENTS})
    postgres_engine.run("ANALYZE cost_probe.events")
    [(pages,)] = postgres_engine.run(
        "SELECT pg_relation_size('cost_probe.events')")
    with connect(postgres_engine.server.url) as conn:
        estimate = conn.estimate(QUERY)
        assert estimate is not None and not estimate.measured
        assert [(s.table, s.rows, s.bytes) for s in estimate.scans] == [
            ("cost_probe.events", ROWS, pages)]
        result, reported = execute_costed(conn, QUERY, "probe")
        assert sum(n for _, n in result.rows) == ROWS - 6
        # PostgreSQL says nothing after a query: the run reports the planner's estimate
        assert conn.last_cost is None
        assert reported == estimate
        problem = cost.budget_problem(cost.parse_budget("1000 rows"), estimate, "postgres")
        assert problem is not None and "20,000 rows" in problem


def test_a_query_on_an_engine_that_reports_nothing_still_runs(snowflake_engine: Engine) -> None:
    snowflake_engine.load({"cost_probe.events": EVENTS})
    assert snowflake_engine.run("SELECT count(*) FROM cost_probe.events") == [(ROWS,)]
