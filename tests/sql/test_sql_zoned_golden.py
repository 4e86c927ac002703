"""Golden SQL of a zoned project, one file per dialect (`golden_zoned/<dialect>.sql`): the
project zone's conversion before bucketing, a source holding another zone's wall-clock
times, range bounds moved to each column's terms, a trailing distinct count. Regenerate with
`pytest tests/sql --update-golden` and review the diff, as for `test_sql_golden.py`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlglot

from metricspec.backends import all_backends
from metricspec.pipeline import compile_metrics
from metricspec.pipeline.kinds import Request
from metricspec.plan.metric_query import Grain
from metricspec.semantic import Index
from metricspec.workspace import Workspace

GOLDEN = Path(__file__).parent / "golden_zoned"
SPEC = """\
calendar { timezone "Europe/Berlin" }
source events = table app.events { entity user_id; time ts; column amount: number }
source calls = table support.calls {
  entity user_id
  time started_at
  timezone "America/New_York"
}
metric revenue = sum(events.amount)
metric users = count_distinct(events.user_id)
metric wau = rolling(users, 7 days)
metric calls_n = count(calls)
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    folder = tmp_path_factory.mktemp("zoned")
    (folder / "zoned.mspec").write_text(SPEC, encoding="utf-8")
    ws = Workspace.load(folder, backends=list(all_backends().values()))
    assert ws.ok, ws.render("text")
    return ws.index


@pytest.mark.parametrize("dialect", list(all_backends()))
def test_zoned_sql_matches_golden(dialect: str, index: Index, update_golden: bool) -> None:
    backend = all_backends()[dialect]
    request = Request(Grain.parse("day"), (), dt.datetime(2026, 3, 28), dt.datetime(2026, 4, 1))
    sql = compile_metrics(index, ["revenue", "wau", "calls_n"], backend, request).sql
    sql = "\n".join(line for line in sql.splitlines() if not line.startswith("-- from:"))
    assert len(sqlglot.parse(sql, read=backend.sqlglot_dialect)) == 1
    path = GOLDEN / f"{dialect}.sql"
    if update_golden:
        path.parent.mkdir(exist_ok=True)
        path.write_text(sql + "\n", encoding="utf-8")
    assert path.read_text(encoding="utf-8") == sql + "\n", f"run pytest {__file__} --update-golden"


def test_range_totals_read_the_range_in_the_zone(index: Index) -> None:
    """The diff's numbers over a range: local midnights, moved to each column's terms."""
    from metricspec.emit.range_sql import range_sql
    from metricspec.emit.sqlbuild import SqlBuilder
    from metricspec.plan.metric_query import plan_metric_query

    plan = plan_metric_query(index, ["revenue", "calls_n"], start=dt.datetime(2026, 3, 29),
                             end=dt.datetime(2026, 3, 30))
    sql = range_sql(plan, SqlBuilder(all_backends()["duckdb"])).sql("duckdb")
    # Berlin's midnights in UTC (the spring-forward day is 23 hours), and in New York time
    for instant in ("2026-03-28 23:00:00", "2026-03-29 22:00:00", "2026-03-28 19:00:00",
                    "2026-03-29 18:00:00"):
        assert instant in sql, instant


def test_the_diff_s_combined_project_keeps_the_zone(index: Index) -> None:
    """`diff --warehouse` plans both sides' metrics in one project: it is HEAD's calendar."""
    from metricspec.diff.numbers import combined
    from metricspec.plan.metric_query import plan_metric_query

    both, _, new = combined(index, index)
    plan = plan_metric_query(both, [new + "revenue"], start=dt.datetime(2026, 3, 29),
                             end=dt.datetime(2026, 3, 30))
    assert plan.timezone == "Europe/Berlin"
