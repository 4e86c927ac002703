"""The series plan of offsets and windows inside arithmetic (`plan.offsets`): which parts
become components, how they are named and shared, and the scanned range."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from metricspec.plan.formula import show
from metricspec.plan.lower import PlanError
from metricspec.plan.metric_query import Grain, plan_metric_query
from metricspec.semantic import Index
from metricspec.workspace import Workspace

SPEC = """\
source events = table app.events { entity user_id; time ts; column amount: number }
metric revenue = sum(events.amount)
metric users = count_distinct(events.user_id)
metric mau = rolling(users, 28 days)
metric target = 2
metric stickiness = users / mau
metric wow = revenue - offset(revenue, 1 week)
metric yoy = growth(revenue, 1 year)
metric scaled = rolling(revenue, 7 days) / (target * 7)
metric mau_wow = growth(mau, 1 week)
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    folder: Path = tmp_path_factory.mktemp("offsets")
    (folder / "m.mspec").write_text(SPEC, encoding="utf-8")
    ws = Workspace.load(folder)
    assert ws.ok, ws.render("text")
    return ws.index


def test_plain_metrics_are_their_own_components_and_are_shared(index: Index) -> None:
    plan = plan_metric_query(index, ["mau", "stickiness", "users"])
    assert plan.series is not None
    assert [c.name for c in plan.series.components] == ["mau", "users"]
    assert [show(m.formula) for m in plan.metrics] == ["mau", "users / mau", "users"]
    assert plan.series.shifts == ()


def test_offsets_read_components_shifted(index: Index) -> None:
    start = dt.datetime(2026, 3, 31)
    plan = plan_metric_query(index, ["wow", "yoy"], start=start, end=dt.datetime(2026, 5, 1))
    assert plan.series is not None
    assert [show(m.formula) for m in plan.metrics] == [
        "wow__c1 - wow__c1@0", "(wow__c1 / wow__c1@1) - 1"]
    assert [str(s) for s in plan.series.shifts] == ["1 week", "1 year"]
    assert plan.series.start == start
    assert plan.start == dt.datetime(2025, 3, 31)  # the scan reaches the longest offset back


def test_constants_stay_in_the_formula(index: Index) -> None:
    plan = plan_metric_query(index, ["scaled"])
    assert plan.series is not None
    assert [c.name for c in plan.series.components] == ["scaled__c1"]
    assert show(plan.metrics[0].formula) == "scaled__c1 / (2 * 7)"


def test_a_window_can_be_offset_and_the_offset_must_tile_the_grain(index: Index) -> None:
    plan = plan_metric_query(index, ["mau_wow"], grain=Grain("week"))
    assert plan.series is not None
    assert plan.series.components[0].window is not None
    with pytest.raises(PlanError, match="offset by 1 week, which is not a whole number"):
        plan_metric_query(index, ["wow"], grain=Grain("month"))
    with pytest.raises(PlanError, match="offset by 1 year"):
        plan_metric_query(index, ["yoy"], grain=Grain("week"))
    assert plan_metric_query(index, ["yoy"], grain=Grain("quarter")).series is not None


@pytest.mark.parametrize("grain", ["fiscal_year", "fiscal_quarter", "quarter"])
def test_a_calendar_offset_plans_at_a_fiscal_grain(index: Index, grain: str) -> None:
    """A year is a whole number of fiscal quarters and years (check accepts the spec; the
    planner read the months of calendar grains only and refused fiscal ones)."""
    plan = plan_metric_query(index, ["yoy"], grain=Grain.parse(grain),
                             start=dt.datetime(2026, 4, 1), end=dt.datetime(2027, 4, 1))
    assert plan.series is not None and [str(s) for s in plan.series.shifts] == ["1 year"]
