"""Star-schema joins run on every engine and agree with pandas (issue 11).

A small warehouse (``joins.*``): events (the fact, many rows per user), users (one row per
user, with an account key), accounts, a slowly changing plan history (two validity intervals
per user) and tickets (many rows per user: a table a naive join would fan out on). Every
construct — a one-hop dimension (`users.plan`), two hops (`user_id.account_id.tier`), a
derived dimension of a dimension table (`users.tenure`, a CASE), a slowly changing
dimension joined as of the event (`plan_at`), a filter through a join, and a declared
alias (`user_plan = user_id.plan` on the fact) — is compiled for each backend, run on its
engine and compared with pandas merges of the same rows. Events whose user is missing
from `users` keep their rows with a NULL dimension (LEFT JOIN).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from harness.base import Engine
from harness.generated_sql import answer

from metricspec.backends import get_backend
from metricspec.emit.metric_sql import metric_query_sql
from metricspec.emit.render import render_sql
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.plan.lower import PlanError
from metricspec.plan.metric_query import Grain, plan_metric_query
from metricspec.workspace import Workspace

#: New (signed up within 6 calendar months before the exposure's month) or returning.
COHORT = ("case when extract(year from user_id.signup_ts) * 12"
          " + extract(month from user_id.signup_ts)"
          " >= extract(year from assigned_ts) * 12 + extract(month from assigned_ts) - 6"
          " then 'new' else 'returning' end")
SPEC = """\
source events = table joins.events {
  entity user_id: string, event_id: integer primary
  time ts: timestamp
  dimension channel: string
  dimension user_plan = user_id.plan
  column amount: number
}
source users = table joins.users {
  entity user_id: string primary, account_id: string
  time signup_ts: timestamp
  dimension plan: string, country: string
  dimension tenure = case when signup_ts < '2026-01-01' then 'old' else 'new' end
}
source accounts = table joins.accounts {
  entity account_id: string primary
  dimension tier: string
}
source plan_history = table joins.plan_history {
  entity user_id: string primary
  validity valid_from .. valid_to
  dimension plan_at: string
}
source tickets = table joins.tickets {
  entity user_id: string, ticket_id: integer primary
  time opened_ts: timestamp
  dimension severity: string
}
source assignments = table joins.assignments {
  entity user_id: string
  time assigned_ts: timestamp
  dimension user_plan = user_id.plan
  dimension plan_now = user_id.plan_at
  dimension cohort = {cohort}
  column experiment_id: string, variant: string
}
source assignments_flat = table joins.assignments_flat {
  entity user_id: string
  time assigned_ts: timestamp
  dimension user_plan: string, plan_now: string, cohort: string
  column experiment_id: string, variant: string
}
source events_flat = table joins.events_flat {
  entity user_id: string, event_id: integer primary
  time ts: timestamp
  column amount: number, plan: string
}
experiment by_joins {
  unit user_id
  assignment assignments variant variant where experiment_id = 'exp'
  variants control 50% control, treatment 50%
  window 2026-11-01 .. 2026-11-04
  primary revenue
  secondary enterprise_revenue
  segments user_plan, plan_now, cohort
}
experiment by_columns {
  unit user_id
  assignment assignments_flat variant variant where experiment_id = 'exp'
  variants control 50% control, treatment 50%
  window 2026-11-01 .. 2026-11-04
  primary flat_revenue
  secondary flat_enterprise_revenue
  segments user_plan, plan_now, cohort
}
metric flat_revenue = sum(events_flat.amount)
metric flat_enterprise_revenue = sum(events_flat.amount where plan = 'enterprise')
metric revenue = sum(events.amount)
metric event_count = count(events)
metric enterprise_revenue = sum(events.amount where users.plan = 'enterprise')
metric pro_alias_events = count(events where user_plan = 'pro')
metric ticket_count = count(tickets)
""".replace("{cohort}", COHORT)

CHANGE = dt.datetime(2026, 11, 3)


def _tables() -> dict[str, pd.DataFrame]:
    rng = random.Random(11)
    accounts = pd.DataFrame({"account_id": ["a1", "a2", "a3"],
                             "tier": ["gold", "silver", "gold"]})
    users = pd.DataFrame({
        "user_id": [f"u{i}" for i in range(20)],
        "account_id": [None if i == 7 else f"a{i % 3 + 1}" for i in range(20)],
        "signup_ts": [dt.datetime(2025, 6, 1) + dt.timedelta(days=30 * i) for i in range(20)],
        "plan": [rng.choice(["free", "pro", "enterprise"]) for _ in range(20)],
        "country": [rng.choice(["us", "de"]) for _ in range(20)],
    })
    history = pd.DataFrame({
        "user_id": [u for u in users.user_id for _ in range(2)],
        "valid_from": [d for _ in range(20) for d in (dt.datetime(2020, 1, 1), CHANGE)],
        "valid_to": [d for _ in range(20) for d in (CHANGE, None)],
        "plan_at": [p for plan in users.plan for p in ("free", plan)],
    })
    events = pd.DataFrame({
        "event_id": range(400),
        "user_id": [f"u{rng.randrange(22)}" for _ in range(400)],  # u20, u21: no user row
        "ts": [dt.datetime(2026, 11, 1) + dt.timedelta(minutes=rng.randrange(5760))
               for _ in range(400)],
        "channel": [rng.choice(["web", "app"]) for _ in range(400)],
        "amount": [rng.randrange(1, 1000) / 8 for _ in range(400)],  # exact in binary
    })
    tickets = pd.DataFrame({
        "ticket_id": range(60), "user_id": [f"u{k % 5}" for k in range(60)],
        "opened_ts": [dt.datetime(2026, 11, 2)] * 60, "severity": ["high", "low"] * 30,
    })
    assignments = pd.DataFrame({
        "experiment_id": ["exp"] * 21, "user_id": [f"u{i}" for i in range(21)],
        "variant": [rng.choice(["control", "treatment"]) for _ in range(21)],
        "assigned_ts": [dt.datetime(2026, 11, 1) + dt.timedelta(hours=3 * i) for i in range(21)],
    })
    # the same exposures with their segments computed by pandas: the plan as of exposure,
    # and new (signed up within 6 calendar months of the exposure's month) or returning
    flat = assignments.merge(users, on="user_id", how="left")
    flat["user_plan"] = flat.plan
    flat["plan_now"] = [None if pd.isna(p) else (p if at >= CHANGE else "free")
                        for p, at in zip(flat.plan, flat.assigned_ts, strict=True)]
    months = flat.signup_ts.dt.year * 12 + flat.signup_ts.dt.month
    exposed = flat.assigned_ts.dt.year * 12 + flat.assigned_ts.dt.month
    flat["cohort"] = ["returning" if pd.isna(m) or m < e - 6 else "new"
                      for m, e in zip(months, exposed, strict=True)]
    flat = flat[["experiment_id", "user_id", "variant", "assigned_ts", "user_plan",
                 "plan_now", "cohort"]]
    events_flat = events.merge(users[["user_id", "plan"]], on="user_id", how="left")
    return {"events": events, "users": users, "accounts": accounts,
            "plan_history": history, "tickets": tickets, "assignments": assignments,
            "assignments_flat": flat, "events_flat": events_flat}


TABLES = _tables()


def _arrow(frame: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = [pa.field(f.name, pa.int64() if pa.types.is_integer(f.type) else
                       pa.timestamp("us") if pa.types.is_timestamp(f.type) else f.type)
              for f in table.schema]
    return table.cast(pa.schema(fields))


def _expected(dimension: str) -> dict[Any, dict[str, float]]:
    """pandas: the fact merged with its dimension tables, then grouped."""
    t = TABLES
    facts = t["events"].merge(t["users"], on="user_id", how="left")
    facts = facts.merge(t["accounts"], on="account_id", how="left")
    facts["tenure"] = facts.signup_ts.map(
        lambda s: None if pd.isna(s) else ("old" if s < dt.datetime(2026, 1, 1) else "new"))
    hist = t["plan_history"]
    open_ = hist.valid_to.isna()
    later = facts.ts >= CHANGE
    facts["plan_at"] = [
        None if pd.isna(p) else (p if late else "free")
        for p, late in zip(facts.plan, later, strict=True)]
    assert open_.sum() == 20
    column = {"users.plan": "plan", "user_id.account_id.tier": "tier", "users.tenure": "tenure",
              "plan_at": "plan_at", "user_plan": "plan"}[dimension]
    out: dict[Any, dict[str, float]] = {}
    for key, group in facts.groupby(facts[column].astype(object).where(
            facts[column].notna(), None), dropna=False):
        value = None if (isinstance(key, float) and math.isnan(key)) else key
        out[value] = {
            "revenue": float(group.amount.sum()), "event_count": len(group),
            "enterprise_revenue": float(group.amount[group.plan == "enterprise"].sum()),
            "pro_alias_events": int((group.plan == "pro").sum()),
        }
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder: Path = tmp_path_factory.mktemp("joins")
    (folder / "model.mspec").write_text(SPEC)
    ws = Workspace.load(folder)
    assert ws.ok, ws.render()
    return ws


_LOADED: set[str] = set()


def _load(engine: Engine) -> None:
    if engine.name not in _LOADED:
        engine.load({f"joins.{name}": _arrow(frame) for name, frame in TABLES.items()})
        _LOADED.add(engine.name)


def _sql(ws: Workspace, metrics: list[str], dimension: str, dialect: str) -> str:
    plan = plan_metric_query(ws.index, metrics, grain=Grain("month"), dimensions=(dimension,))
    backend = get_backend(dialect)
    return render_sql(metric_query_sql(plan, SqlBuilder(backend)), backend, kind="query",
                      name="joins", files=())


METRICS = ["revenue", "event_count", "enterprise_revenue", "pro_alias_events"]
DIMENSIONS = ("users.plan", "user_id.account_id.tier", "users.tenure", "plan_at", "user_plan")


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_joined_dimensions_match_pandas(engine: Engine, project: Workspace,
                                        dimension: str) -> None:
    _load(engine)
    sql = _sql(project, METRICS, dimension, engine.name)
    got = answer(engine, sql, get_backend(engine.name).sqlglot_dialect).records()
    expected = _expected(dimension)
    output = dimension.replace(".", "_") if "." in dimension else dimension
    assert len(got) == len(expected), (got, expected)
    for row in got:
        want = expected[row[output]]
        for metric in METRICS:
            value = row[metric]
            if want[metric] == 0 and metric in ("enterprise_revenue",):
                assert value in (None, 0), (dimension, row)
                continue
            assert value == pytest.approx(want[metric], rel=1e-9), (dimension, metric, row)


def test_a_one_to_many_table_changes_no_value(engine: Engine, project: Workspace) -> None:
    """Adding tickets (many rows per user) to the query leaves every events value as it
    was: each source is aggregated on its own, and only many-to-one edges are joined."""
    _load(engine)
    dialect = get_backend(engine.name).sqlglot_dialect
    alone = answer(engine, _sql(project, METRICS, "users.plan", engine.name), dialect)
    both = answer(engine, _sql(project, [*METRICS, "ticket_count"], "users.plan",
                               engine.name), dialect)
    with_tickets = {r["users_plan"]: r for r in both.records()}
    assert sum(r["ticket_count"] or 0 for r in both.records()) == len(TABLES["tickets"])
    for row in alone.records():
        for metric in METRICS:
            assert with_tickets[row["users_plan"]][metric] == row[metric]
    # and a dimension of tickets is refused from events: it would repeat events' rows
    with pytest.raises(PlanError, match=r"not a dimension .*(one-to-many|many-to-many)"):
        _sql(project, METRICS, "tickets.severity", engine.name)


def test_each_fact_table_is_scanned_once(duckdb_engine: Engine, project: Workspace) -> None:
    """DuckDB's physical plan reads `events` once, however many dimensions it joins."""
    _load(duckdb_engine)
    sql = _sql(project, METRICS, "user_id.account_id.tier", "duckdb")
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    plan = "\n".join(str(row[-1]) for row in duckdb_engine.run("EXPLAIN " + body))
    scanned = [name.split(".")[-1] for name in re.findall(r"Table: ([\w.]+)", plan)]
    assert sorted(scanned) == ["accounts", "events", "users"], plan


def test_experiment_segments_and_filters_through_joins(engine: Engine,
                                                       project: Workspace) -> None:
    """An experiment segmented by joined and derived dimensions as of each unit's first
    exposure, with a metric filtered through a join, gives the rows of the same experiment
    on tables where pandas computed those columns."""
    from metricspec.pipeline import compile_object

    _load(engine)
    backend = get_backend(engine.name)
    rows = {}
    for name in ("by_joins", "by_columns"):
        sql = compile_object(project.index, name, backend).sql
        got = answer(engine, sql, backend.sqlglot_dialect).records()
        rename = {"flat_revenue": "revenue", "flat_enterprise_revenue": "enterprise_revenue"}
        rows[name] = {
            (r["segment"], r["segment_value"], r["variant"], rename.get(r["metric"], r["metric"]),
             rename.get(r["metric_2"], r["metric_2"])): r for r in got}
    assert rows["by_joins"].keys() == rows["by_columns"].keys()
    segments = {k[:2] for k in rows["by_joins"]}
    assert {("cohort", "new"), ("cohort", "returning"), ("plan_now", "free")} <= segments
    for key, row in rows["by_joins"].items():
        other = rows["by_columns"][key]
        for column, value in row.items():
            if column in ("experiment", "metric", "metric_2"):
                continue
            want = other[column]
            if isinstance(value, float) and want is not None:
                assert value == pytest.approx(want, rel=1e-9), (key, column)
            else:
                assert value == want, (key, column)
