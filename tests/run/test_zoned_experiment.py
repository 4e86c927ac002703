"""An experiment's window is read in the project's zone (docs/language.md, "Time zones"):
its dates are local days, its first instant local midnight, and it is shown with the zone.
Run on DuckDB and compared with pandas' own reading of the window (`tz_localize`) on
exposures and orders around Berlin's fall-back night (2026-10-25: a 25-hour day)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from metricspec.backends import get_backend
from metricspec.emit.experiment_daily import daily_sql, window_days
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.plan.experiment import plan_experiment
from metricspec.report.experiment import build_report
from metricspec.workspace import Workspace

SPEC = """\
calendar {{ timezone "{zone}" }}
source assignments = table ab.assignments {{ entity user_id; time ts; dimension variant }}
source orders = table ab.orders {{ entity user_id; time ts; column amount: number }}
metric order_count = count(orders)
experiment checkout {{
  unit user_id
  assignment assignments variant variant
  variants control 50% control, treatment 50%
  primary order_count
  window 2026-10-24 .. 2026-10-25
}}
"""
HOURS = pd.date_range("2026-10-23 12:00", "2026-10-26 12:00", freq="30min")


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    assignments = pd.DataFrame({
        "user_id": [f"u{i}" for i in range(len(HOURS))], "ts": HOURS,
        "variant": ["control" if i % 3 else "treatment" for i in range(len(HOURS))]})
    orders = pd.DataFrame({
        "user_id": [f"u{(i * 7) % len(HOURS)}" for i in range(3 * len(HOURS))],
        "ts": [HOURS[0] + pd.Timedelta(minutes=23 * i) for i in range(3 * len(HOURS))],
        "amount": [float(i % 5) for i in range(3 * len(HOURS))]})
    return assignments, orders


def _expected(zone: str) -> dict[str, tuple[int, float]]:
    """Units and orders per variant, with the window read in `zone` by pandas."""
    assignments, orders = _frames()
    lo, hi = (pd.Timestamp(day, tz=zone).tz_convert("UTC").tz_localize(None)
              for day in ("2026-10-24", "2026-10-26"))
    exposed = assignments[(assignments.ts >= lo) & (assignments.ts < hi)]
    out = {}
    for variant, units in exposed.groupby("variant"):
        joined = orders.merge(units, on="user_id", suffixes=("", "_exposed"))
        counted = joined[(joined.ts >= joined.ts_exposed) & (joined.ts >= lo) & (joined.ts < hi)]
        out[str(variant)] = (len(units), float(len(counted)))
    return out


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Asia/Kolkata", "UTC"])
def test_window_is_local_days(tmp_path: Path, zone: str) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "x.mspec").write_text(SPEC.format(zone=zone), encoding="utf-8")
    database = tmp_path / "w.duckdb"
    assignments, orders = _frames()
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA ab")
        con.register("a", assignments)
        con.register("o", orders)
        con.execute("CREATE TABLE ab.assignments AS SELECT * FROM a")
        con.execute("CREATE TABLE ab.orders AS SELECT * FROM o")
    ws = Workspace.load(tmp_path / "specs")
    assert ws.ok, ws.render("text")
    outcome = ws.run("checkout", f"duckdb:///{database}")
    got = {r["variant"]: (r["n"], r["sum_x"]) for r in outcome.rows
           if r["metric"] == "order_count" and r["segment"] == "all"}
    assert got == _expected(zone)
    plan = plan_experiment(ws.index, "checkout")
    assert window_days(plan) == 2
    report = build_report(plan, outcome.result, warehouse="duckdb")
    shown = "2026-10-24 → 2026-10-26 (exclusive)"
    assert report.window == (shown if zone == "UTC" else f"{shown} ({zone})")
    if zone == "Europe/Berlin":  # the daily diagnostics' days: 24 and 25 hours
        daily = daily_sql(plan, SqlBuilder(get_backend("duckdb"))).sql("duckdb")
        for instant in ("2026-10-23 22:00:00", "2026-10-24 22:00:00", "2026-10-25 23:00:00"):
            assert instant in daily, instant
        assert plan.start == dt.datetime(2026, 10, 23, 22)
