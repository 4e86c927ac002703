"""A filter that is one boolean column (`where escalated`) reads its own source's column when
a joined dimension table has a column of the same name: the joined table's columns reach the
scan only under their qualified names (`users_plan`), and the filter is qualified by the
source's alias like any other (`s."escalated"`)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from metricspec.backends import get_backend
from metricspec.emit.metric_sql import metric_query_sql
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.plan.metric_query import Grain, plan_metric_query
from metricspec.workspace import Workspace

SPEC = """\
source tickets = table t.tickets {
  entity user_id: string
  time ts: timestamp
  column escalated: boolean
}
source users = table t.users {
  entity user_id: string primary
  dimension plan: string
  column escalated: boolean
}
metric escalations = count(tickets where escalated)
metric calm = count(tickets where not escalated)
"""


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA t")
    con.execute("CREATE TABLE t.users AS SELECT * FROM (VALUES "
                "('a', 'pro', TRUE), ('b', 'free', FALSE)) v(user_id, plan, escalated)")
    con.execute("CREATE TABLE t.tickets AS SELECT * FROM (VALUES "
                "('a', TIMESTAMP '2026-11-01 10:00', FALSE), "
                "('a', TIMESTAMP '2026-11-01 11:00', TRUE), "
                "('b', TIMESTAMP '2026-11-01 12:00', TRUE), "
                "('b', TIMESTAMP '2026-11-01 13:00', TRUE)) v(user_id, ts, escalated)")
    return con


def test_a_bare_boolean_filter_reads_its_own_source(tmp_path: Path,
                                                    con: duckdb.DuckDBPyConnection) -> None:
    (tmp_path / "s.mspec").write_text(SPEC)
    ws = Workspace.load(tmp_path)
    assert ws.ok, ws.render("text")
    plan = plan_metric_query(ws.index, ["escalations", "calm"], grain=Grain("day"),
                             dimensions=("users.plan",))
    backend = get_backend("duckdb")
    sql = metric_query_sql(plan, SqlBuilder(backend)).sql(dialect="duckdb")
    rows = con.execute(sql).fetchall()
    by_plan = {row[1]: row[2:] for row in rows}
    # the ticket's own `escalated`, not the user's: pro has 1 of 2, free 2 of 2
    assert by_plan == {"pro": (1, 1), "free": (2, 0)}
