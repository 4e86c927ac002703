"""Joined dimensions wherever a dimension is accepted, run on every engine (issue 11).

The warehouse of ``test_joins`` (events, users, accounts, a slowly changing plan history,
tickets, exposures), loaded as ``joinref.*``. Each construct is compared with a computation
that does not go through metricspec's joins:

- an experiment segmented by dotted references (`users.country`, `user_id.account_id.tier`,
  `plan_history.plan_at` as of the exposure) and filtered by a joined dimension in its
  assignment `where`, with a metric filtered through a join and a conversion whose two ends
  filter through joins, gives the rows of the same experiment on flat tables where pandas
  computed those columns;
- a conversion metric whose ends filter through joins equals pandas' conversion over the
  merged tables, month by month;
- a monitor sliced by `users.plan` gives, in its series query, the values of the metric
  query by the same reference.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from harness.base import Engine
from harness.generated_sql import answer
from test_joins import CHANGE, TABLES, _arrow

from metricspec.backends import get_backend
from metricspec.emit.experiment_daily import daily_sql
from metricspec.emit.experiment_regression import regression_sql
from metricspec.emit.metric_sql import metric_query_sql
from metricspec.emit.render import render_sql
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.pipeline import compile_object, series_sql
from metricspec.plan.experiment import plan_experiment
from metricspec.plan.metric_query import Grain, plan_metric_query
from metricspec.plan.regression import plan_regression
from metricspec.workspace import Workspace

SPEC = """\
source events = table joinref.events {
  entity user_id: string, event_id: integer primary
  time ts: timestamp
  dimension channel: string
  column amount: number
}
source users = table joinref.users {
  entity user_id: string primary, account_id: string
  time signup_ts: timestamp
  dimension plan: string, country: string
}
source accounts = table joinref.accounts {
  entity account_id: string primary
  dimension tier: string
}
source plan_history = table joinref.plan_history {
  entity user_id: string primary
  validity valid_from .. valid_to
  dimension plan_at: string
}
source assignments = table joinref.assignments {
  entity user_id: string
  time assigned_ts: timestamp
  column experiment_id: string, variant: string
}
source tickets = table joinref.tickets {
  entity user_id: string, ticket_id: integer primary
  time opened_ts: timestamp
  dimension severity: string
}
source assignments_flat = table joinref.assignments_flat {
  entity user_id: string
  time assigned_ts: timestamp
  dimension country: string, tier: string, plan_at: string
  column experiment_id: string, variant: string
}
source events_flat = table joinref.events_flat {
  entity user_id: string, event_id: integer primary
  time ts: timestamp
  dimension channel: string
  column amount: number, plan: string, tier: string
}
experiment dotted {
  unit user_id
  assignment assignments variant variant where experiment_id = 'exp' and users.country <> 'de'
  variants control 50% control, treatment 50%
  window 2026-11-01 .. 2026-11-04
  primary gold_revenue
  secondary revenue, pro_to_app
  segments users.country, user_id.account_id.tier, plan_history.plan_at
}
experiment dotted_tickets {
  unit user_id
  assignment assignments variant variant where experiment_id = 'exp' and users.country <> 'de'
  variants control 50% control, treatment 50%
  window 2026-11-01 .. 2026-11-04
  primary gold_revenue
  secondary revenue, pro_to_app, ticket_count
  segments users.country, user_id.account_id.tier, plan_history.plan_at
}
experiment adjusted {
  unit user_id
  assignment assignments variant variant where experiment_id = 'exp' and users.country <> 'de'
  variants control 50% control, treatment 50%
  window 2026-11-02 .. 2026-11-04
  primary gold_revenue
  cuped 1 days
  covariates pre(gold_revenue)
}
experiment adjusted_flat {
  unit user_id
  assignment assignments_flat variant variant where experiment_id = 'exp' and country <> 'de'
  variants control 50% control, treatment 50%
  window 2026-11-02 .. 2026-11-04
  primary flat_gold_revenue
  cuped 1 days
  covariates pre(flat_gold_revenue)
}
experiment dotted_flat {
  unit user_id
  assignment assignments_flat variant variant where experiment_id = 'exp' and country <> 'de'
  variants control 50% control, treatment 50%
  window 2026-11-01 .. 2026-11-04
  primary flat_gold_revenue
  secondary flat_revenue, flat_pro_to_app
  segments country, tier, plan_at
}
metric revenue = sum(events.amount)
metric gold_revenue = sum(events.amount where user_id.account_id.tier = 'gold')
metric pro_to_app = conversion(events where users.plan = 'pro'
  -> events where accounts.tier = 'gold' and channel = 'app', within 1 day, by user_id)
metric ticket_count = count(tickets where severity = 'high')
metric flat_revenue = sum(events_flat.amount)
metric flat_gold_revenue = sum(events_flat.amount where tier = 'gold')
metric flat_pro_to_app = conversion(events_flat where plan = 'pro'
  -> events_flat where tier = 'gold' and channel = 'app', within 1 day, by user_id)
monitor revenue_by_plan {
  metric revenue
  every 1 day
  alert when below 1
  dimensions users.plan
}
"""

#: each dotted segment of `dotted` and its flat column in `dotted_flat`
FLAT = {"users.country": "country", "user_id.account_id.tier": "tier",
        "plan_history.plan_at": "plan_at", "flat_revenue": "revenue",
        "flat_gold_revenue": "gold_revenue", "flat_pro_to_app": "pro_to_app"}


def _tables() -> dict[str, pd.DataFrame]:
    t = TABLES
    dims = t["users"].merge(t["accounts"], on="account_id", how="left")
    flat = t["assignments"].merge(dims[["user_id", "country", "tier", "plan"]],
                                  on="user_id", how="left")
    flat["plan_at"] = [None if pd.isna(p) else (p if at >= CHANGE else "free")
                       for p, at in zip(flat.plan, flat.assigned_ts, strict=True)]
    flat = flat.drop(columns=["plan"])
    events = t["events"].merge(dims[["user_id", "plan", "tier"]], on="user_id", how="left")
    return {"events": t["events"], "users": t["users"], "accounts": t["accounts"],
            "plan_history": t["plan_history"], "assignments": t["assignments"],
            "tickets": t["tickets"],
            "assignments_flat": flat, "events_flat": events}


REF_TABLES = _tables()
_LOADED: set[str] = set()


def _load(engine: Engine) -> None:
    if engine.name not in _LOADED:
        engine.load({f"joinref.{name}": _arrow(frame) for name, frame in REF_TABLES.items()})
        _LOADED.add(engine.name)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder: Path = tmp_path_factory.mktemp("joinref")
    (folder / "model.mspec").write_text(SPEC)
    ws = Workspace.load(folder)
    assert ws.ok, ws.render()
    return ws


def _rows(engine: Engine, ws: Workspace, name: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    backend = get_backend(engine.name)
    sql = compile_object(ws.index, name, backend).sql
    got = answer(engine, sql, backend.sqlglot_dialect).records()
    return {(FLAT.get(r["segment"], r["segment"]), r["segment_value"], r["variant"],
             FLAT.get(r["metric"], r["metric"]), FLAT.get(r["metric_2"], r["metric_2"])): r
            for r in got}


def test_dotted_segments_and_joined_filters_match_flat_columns(
        engine: Engine, project: Workspace) -> None:
    """Segments by dotted references (one hop, two hops, a slowly changing dimension as of
    the exposure), an assignment filtered by a joined dimension, a metric filter and a
    conversion through joins: the same rows as on tables where pandas joined them."""
    _load(engine)
    joined, flat = _rows(engine, project, "dotted"), _rows(engine, project, "dotted_flat")
    assert joined.keys() == flat.keys()
    segments = {k[:2] for k in joined}
    assert {("tier", "gold"), ("tier", "silver"), ("plan_at", "free"),
            ("country", "us")} <= segments
    assert not any(k[0] == "country" and k[1] == "de" for k in joined)  # filtered out
    exposed = {k[2]: r["n"] for k, r in joined.items()
               if k[0] == "all" and k[3] == "gold_revenue" and k[4] is None}
    want = REF_TABLES["assignments_flat"]
    assert sum(exposed.values()) == int((want.country.notna() & (want.country != "de")).sum())
    for key, row in joined.items():
        other = flat[key]
        for column, value in row.items():
            if column in ("experiment", "metric", "metric_2", "segment"):
                continue
            expected = other[column]
            if isinstance(value, float) and expected is not None:
                assert value == pytest.approx(expected, rel=1e-9), (key, column)
            else:
                assert value == expected, (key, column)


def _daily(engine: Engine, ws: Workspace, name: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    backend = get_backend(engine.name)
    plan = plan_experiment(ws.index, name)
    sql = render_sql(daily_sql(plan, SqlBuilder(backend)), backend,
                     kind="experiment diagnostics", name=name, files=plan.files)
    got = answer(engine, sql, backend.sqlglot_dialect).records()
    return {(r["kind"], FLAT.get(r["metric"], r["metric"]), r["day"],
             FLAT.get(r["segment"], r["segment"]), r["segment_value"], r["variant"]): r
            for r in got}


def test_daily_diagnostics_read_the_same_joins(engine: Engine, project: Workspace) -> None:
    """The daily diagnostics (exposures and segments by day, cumulative sums, the novelty
    trend) of the experiment filtered and segmented through joins equal the flat one's."""
    _load(engine)
    joined, flat = _daily(engine, project, "dotted"), _daily(engine, project, "dotted_flat")
    assert joined.keys() == flat.keys()
    assert {k[1] for k in joined if k[0] == "cumulative"} == {"gold_revenue"}  # primary
    for key, row in joined.items():
        for column, value in row.items():
            if column in ("metric", "segment"):
                continue
            expected = flat[key][column]
            if isinstance(value, float) and expected is not None:
                assert value == pytest.approx(expected, rel=1e-9, abs=1e-12), (key, column)
            else:
                assert value == expected, (key, column)


def test_regression_sums_read_the_same_joins(engine: Engine, project: Workspace) -> None:
    """The regression adjustment's sums (a metric and its pre-period covariate, both
    filtered through a join) equal the flat experiment's."""
    _load(engine)
    backend = get_backend(engine.name)
    found = []
    for name in ("adjusted", "adjusted_flat"):
        reg = plan_regression(project.index, plan_experiment(project.index, name))
        assert reg is not None
        sql = render_sql(regression_sql(reg, SqlBuilder(backend)), backend,
                         kind="experiment regression", name=name, files=())
        found.append(answer(engine, sql, backend.sqlglot_dialect).records())
    joined, flat = found
    assert len(joined) == len(flat) > 0
    for a, b in zip(joined, flat, strict=True):
        for column, value in a.items():
            other = b[column]
            if isinstance(value, str):  # variable names: `flat_` dropped
                assert value == other.replace("flat_", ""), (column, a, b)
            elif isinstance(value, float) and other is not None:
                assert value == pytest.approx(other, rel=1e-9, abs=1e-12), (column, a, b)
            else:
                assert value == other, (column, a, b)
    assert any(isinstance(v, float) and v for r in joined for v in r.values())


def test_a_one_to_many_table_changes_no_experiment_value(engine: Engine,
                                                        project: Workspace) -> None:
    """Adding a metric of tickets (many rows per user) to the experiment leaves every row
    of the other metrics as it was, in every segment: each source is aggregated per unit
    on its own before anything is joined to the exposures."""
    _load(engine)
    alone, both = _rows(engine, project, "dotted"), _rows(engine, project, "dotted_tickets")
    tickets = {k: r for k, r in both.items() if "ticket_count" in (k[3], k[4])}
    assert tickets and sum(r["sum_x"] for k, r in tickets.items()
                           if k[0] == "all" and k[4] is None) > 0
    assert {k: r for k, r in both.items() if k not in tickets}.keys() == alone.keys()
    for key, row in alone.items():
        assert {c: v for c, v in both[key].items() if c != "experiment"} == {
            c: v for c, v in row.items() if c != "experiment"}, key


def _conversion_by_month() -> dict[dt.datetime, tuple[int, int]]:
    """pandas: per (user, month) the first `pro` user's event; converted when an `app`
    event of a `gold` account's user follows within a day."""
    events = REF_TABLES["events_flat"]
    starts = events[events.plan == "pro"].copy()
    starts["month"] = starts.ts.dt.to_period("M").dt.to_timestamp()
    first = starts.groupby(["user_id", "month"]).ts.min().reset_index()
    ends = events[(events.tier == "gold") & (events.channel == "app")]
    out: dict[dt.datetime, tuple[int, int]] = {}
    for month, group in first.groupby("month"):
        hits = 0
        for row in group.itertuples():
            mine = ends[(ends.user_id == row.user_id) & (ends.ts >= row.ts)
                        & (ends.ts < row.ts + pd.Timedelta(days=1))]
            hits += not mine.empty
        out[month.to_pydatetime()] = (len(group), hits)
    return out


def test_conversion_through_joins_matches_pandas(engine: Engine, project: Workspace) -> None:
    _load(engine)
    plan = plan_metric_query(project.index, ["pro_to_app"], grain=Grain("month"),
                             start=dt.datetime(2026, 11, 1), end=dt.datetime(2026, 12, 1))
    backend = get_backend(engine.name)
    sql = render_sql(metric_query_sql(plan, SqlBuilder(backend)), backend, kind="query",
                     name="joinref", files=())
    got = answer(engine, sql, backend.sqlglot_dialect).records()
    expected = _conversion_by_month()
    assert [r["period"] for r in got] == sorted(expected)
    for row in got:
        starts, hits = expected[row["period"]]
        assert 0 < hits < starts  # the case is not degenerate
        assert row["pro_to_app"] == pytest.approx(hits / starts, rel=1e-9)


def test_monitor_sliced_through_a_join(engine: Engine, project: Workspace) -> None:
    """The monitor's series by `users.plan` (a dotted slice) holds, per day and plan, the
    sum of the events of users on that plan (NULL for events without a user row)."""
    _load(engine)
    backend = get_backend(engine.name)
    compiled = compile_object(project.index, "revenue_by_plan", backend,
                              start=dt.datetime(2026, 11, 1), end=dt.datetime(2026, 11, 5))
    result = answer(engine, series_sql(compiled), backend.sqlglot_dialect)
    assert result.columns[:2] == ("period", "users_plan")
    events = REF_TABLES["events_flat"]
    events = events.assign(day=events.ts.dt.floor("D"), plan=events.plan.fillna("(none)"))
    sums = events.groupby(["day", "plan"]).amount.sum()
    got = {(row["period"], row["users_plan"] or "(none)"): row["value"]
           for row in result.records() if row["value"] is not None}
    assert got.keys() == {(day.to_pydatetime(), plan) for day, plan in sums.index}
    for (day, plan), value in got.items():
        assert value == pytest.approx(sums[(pd.Timestamp(day), plan)], rel=1e-9)
