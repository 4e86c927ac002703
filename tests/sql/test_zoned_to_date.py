"""A to-date metric in a project time zone reads from the start of its local month, as it
does without a zone (the zoned range once started at the query's start, so month-to-date
on 10 March left out 1–9 March). Checked on DuckDB against pandas `tz_convert`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from metricspec.backends import get_backend
from metricspec.pipeline import compile_object
from metricspec.plan.metric_query import Grain
from metricspec.workspace import Workspace

SPEC = """\
calendar { timezone "Europe/Berlin" }
source events = table a.events { entity user_id: string; time ts: timestamp; column amount: number }
metric revenue = sum(events.amount)
metric mtd_rev = mtd(revenue)
"""


def test_month_to_date_in_a_zone_counts_from_the_local_month_start(tmp_path: Path) -> None:
    (tmp_path / "s.mspec").write_text(SPEC)
    ws = Workspace.load(tmp_path)
    assert ws.ok, ws.render("text")
    sql = compile_object(ws.index, "mtd_rev", get_backend("duckdb"), grain=Grain("day"),
                         start=dt.datetime(2026, 3, 10), end=dt.datetime(2026, 3, 13)).sql
    events = pd.DataFrame({"user_id": "u", "amount": 1.0,
                           "ts": pd.date_range("2026-02-27", "2026-03-14", freq="5h")})
    con = duckdb.connect()
    con.execute("CREATE SCHEMA a")
    con.register("events_df", events)
    con.execute("CREATE TABLE a.events AS SELECT * FROM events_df")
    local = events.ts.dt.tz_localize("UTC").dt.tz_convert("Europe/Berlin").dt.tz_localize(None)
    rows = con.execute(sql).fetchall()
    assert [p for p, _ in rows] == [dt.datetime(2026, 3, d) for d in (10, 11, 12)]
    for period, value in rows:
        want = ((local >= pd.Timestamp("2026-03-01"))
                & (local < pd.Timestamp(period) + pd.Timedelta(days=1))).sum()
        assert value == want, (period, value, want)


BALANCE = """\
calendar { timezone "Asia/Kolkata" }
source snaps = table a.snaps { entity queue_id: string; time ts: timestamp; column open_n: integer }
metric backlog = sum(snaps.open_n, last per queue_id)
"""


def test_a_balance_in_a_zone_takes_the_last_snapshot_of_the_local_day(tmp_path: Path) -> None:
    """Snapshots at 20:00 UTC fall on the next local day in Kolkata (+05:30): each local day's
    balance is that evening's UTC snapshot, and the periods are cut like every other block's."""
    (tmp_path / "s.mspec").write_text(BALANCE)
    ws = Workspace.load(tmp_path)
    assert ws.ok, ws.render("text")
    sql = compile_object(ws.index, "backlog", get_backend("duckdb"), grain=Grain("day"),
                         start=dt.datetime(2026, 3, 2), end=dt.datetime(2026, 3, 5)).sql
    times = [dt.datetime(2026, 3, d, h) for d in range(1, 6) for h in (6, 20)]
    snaps = pd.DataFrame({"queue_id": "q", "ts": times, "open_n": range(len(times))})
    con = duckdb.connect()
    con.execute("CREATE SCHEMA a")
    con.register("snaps_df", snaps)
    con.execute("CREATE TABLE a.snaps AS SELECT * FROM snaps_df")
    local = snaps.ts.dt.tz_localize("UTC").dt.tz_convert("Asia/Kolkata").dt.tz_localize(None)
    want = {day: int(snaps.open_n[local.dt.normalize() == day].iloc[-1])
            for day in pd.date_range("2026-03-02", "2026-03-04")}
    got = {pd.Timestamp(p): v for p, v in con.execute(sql).fetchall()}
    assert got == want
