"""A monitor's windows are the project zone's periods (docs/language.md, "Time zones"): with
one event per UTC hour, only Berlin's 25-hour day (2026-10-25, the fall-back) holds more
than 24 events, so a monitor alerting above 24 fires on that local day alone, as pandas'
`tz_convert` counts it; in UTC every day holds 24 and nothing fires. The report shows the
zone beside its range."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from metricspec.plan.monitor import plan_monitor
from metricspec.report.monitor import build_monitor_report
from metricspec.run.connections import connect
from metricspec.run.execute import run_monitor
from metricspec.workspace import Workspace

SPEC = """\
calendar {{ timezone "{zone}" }}
source events = table tz.events {{ entity user_id; time ts }}
metric event_count = count(events)
monitor long_days {{
  metric event_count
  every 1 day
  alert when above 24
  min_n 1
}}
"""
HOURS = pd.date_range("2026-10-20", "2026-10-30", freq="h", inclusive="left")


def _firing(zone: str) -> list[dt.datetime]:
    local = pd.Series(HOURS).dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None)
    per_day = local.dt.normalize().value_counts()
    inside = per_day[(per_day.index >= "2026-10-21") & (per_day.index < "2026-10-29")]
    return sorted(d.to_pydatetime() for d in inside[inside > 24].index)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "UTC"])
def test_monitor_windows_are_local_days(tmp_path: Path, zone: str) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "m.mspec").write_text(SPEC.format(zone=zone), encoding="utf-8")
    database = tmp_path / "w.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA tz")
        con.register("e", pd.DataFrame({"user_id": "u", "ts": HOURS}))
        con.execute("CREATE TABLE tz.events AS SELECT * FROM e")
    ws = Workspace.load(specs)
    assert ws.ok, ws.render("text")
    since, until = dt.datetime(2026, 10, 21), dt.datetime(2026, 10, 29)
    with connect(f"duckdb:///{database}") as conn:
        run = run_monitor(ws.index, "long_days", conn, since=since, until=until)
    fired = sorted({a["period"] for a in run.alerts})
    assert fired == _firing(zone)
    assert fired == ([dt.datetime(2026, 10, 25)] if zone != "UTC" else [])
    report = build_monitor_report(plan_monitor(ws.index, "long_days", start=since, end=until),
                                  run.alerts, None, None, since, until)
    assert report.range.endswith("(Europe/Berlin)") == (zone != "UTC"), report.range
