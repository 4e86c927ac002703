"""Time zones (issue 12, item 3) run on every engine against pandas: periods cut on the
project zone's wall clock across daylight-saving changes (Europe/Berlin springs forward on
2026-03-29 and falls back on 2026-10-25), a zone with a 30-minute offset (Asia/Kolkata),
ranges given in the project zone, and a source whose column holds another zone's wall-clock
time (America/New_York).

The events are one per UTC hour over a week around each change (so a local day holds 23,
24 or 25 of them), with users and amounts. The expected values come from pandas'
`tz_convert`, sharing nothing with metricspec.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from harness.base import Engine
from harness.compare import naive_time
from harness.generated_sql import answer

from metricspec.backends import get_backend
from metricspec.pipeline import compile_object
from metricspec.plan.metric_query import Grain
from metricspec.semantic import Index
from metricspec.workspace import Workspace

METRICS = """\
metric event_count = count(events)
metric revenue = sum(events.amount)
metric revenue_7d = rolling(revenue, 7 days)
metric users = count_distinct(events.user_id)
metric wau = rolling(users, 7 days)
"""
SOURCE = """\
source events = table {table} {{
  entity user_id: string
  time ts: timestamp
  column amount: number{zone}
}}
"""
#: project zone, source table, source zone
PROJECTS = {
    "berlin": ("Europe/Berlin", "tz.events", None),
    "kolkata": ("Asia/Kolkata", "tz.events", None),
    "berlin_ny": ("Europe/Berlin", "tz.events_ny", "America/New_York"),
}


def _events() -> pd.DataFrame:
    """One event per UTC hour around both changes of 2026 in Berlin."""
    hours = [*pd.date_range("2026-03-24", "2026-04-03", freq="h", inclusive="left"),
             *pd.date_range("2026-10-21", "2026-10-30", freq="h", inclusive="left")]
    rows = [(ts, f"u{i % 13}", float(i % 7) + 0.5) for i, ts in enumerate(hours)]
    return pd.DataFrame(rows, columns=["ts", "user_id", "amount"])


EVENTS = _events()


def local(zone: str) -> pd.Series:
    """Each event's wall-clock time in `zone` (naive), by pandas."""
    return EVENTS.ts.dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None)


def _floor(ts: pd.Series, grain: str) -> pd.Series:
    if grain == "hour":
        return ts.dt.floor("h")
    if grain == "day":
        return ts.dt.normalize()
    if grain == "week":
        return ts.dt.normalize() - pd.to_timedelta(ts.dt.day_of_week, unit="D")
    return ts.dt.to_period("M").dt.start_time


STEP = {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1),
        "week": pd.Timedelta(days=7), "month": pd.DateOffset(months=1)}
FREQ = {"hour": "h", "day": "D", "week": "W-MON", "month": "MS"}


def expected(zone: str, metric: str, grain: str, start: dt.datetime | None,
             end: dt.datetime | None) -> dict[dt.datetime, float]:
    """The metric per local period of the range (wall-clock buckets of `zone`)."""
    events = EVENTS.assign(at=local(zone))
    events = events.assign(period=_floor(events["at"], grain))
    inside = events
    if start is not None:
        inside = inside[inside["at"] >= start]
    if end is not None:
        inside = inside[inside["at"] < end]
    first = _floor(pd.Series([pd.Timestamp(start)]), grain)[0] if start else inside.period.min()
    last = (_floor(pd.Series([pd.Timestamp(end) - pd.Timedelta(seconds=1)]), grain)[0]
            if end else inside.period.max())
    out: dict[dt.datetime, float] = {}
    for period in pd.date_range(first, last, freq=FREQ[grain]):
        stop = period + STEP[grain]
        if metric in ("revenue_7d", "wau"):
            cur = events[(events["at"] >= stop - pd.Timedelta(days=7)) & (events["at"] < stop)]
            if end is not None:
                cur = cur[cur["at"] < end]
        else:
            cur = inside[(inside["at"] >= period) & (inside["at"] < stop)]
        value = (len(cur) if metric == "event_count" else cur.user_id.nunique()
                 if metric in ("users", "wau") else cur.amount.sum())
        out[period.to_pydatetime()] = float(value)
    return out


@dataclass(frozen=True)
class Case:
    project: str
    metric: str
    grain: str
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    @property
    def id(self) -> str:
        bounds = "open" if self.start is None else f"{self.start:%m%d}-{self.end:%m%d}"
        return "-".join([self.project, self.metric, self.grain, bounds])


SPRING = (dt.datetime(2026, 3, 27), dt.datetime(2026, 4, 1))
FALL = (dt.datetime(2026, 10, 23), dt.datetime(2026, 10, 28))
CASES = (
    Case("berlin", "event_count", "day", *SPRING),
    Case("berlin", "event_count", "day", *FALL),
    Case("berlin", "event_count", "hour", dt.datetime(2026, 3, 29), dt.datetime(2026, 3, 30)),
    Case("berlin", "event_count", "hour", dt.datetime(2026, 10, 25), dt.datetime(2026, 10, 26)),
    Case("berlin", "revenue", "week", dt.datetime(2026, 3, 23), dt.datetime(2026, 4, 6)),
    Case("berlin", "event_count", "month"),
    Case("berlin", "revenue_7d", "day", *FALL),
    Case("berlin", "wau", "day", *SPRING),
    Case("kolkata", "event_count", "day", *SPRING),
    Case("kolkata", "revenue", "hour", dt.datetime(2026, 10, 25), dt.datetime(2026, 10, 26)),
    Case("kolkata", "users", "week"),
    Case("berlin_ny", "event_count", "day", *FALL),
    Case("berlin_ny", "event_count", "hour", dt.datetime(2026, 3, 29), dt.datetime(2026, 3, 30)),
    Case("berlin_ny", "wau", "day", *SPRING),
)


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Index]:
    out = {}
    for name, (zone, table, source_zone) in PROJECTS.items():
        folder: Path = tmp_path_factory.mktemp(name)
        own = f'\n  timezone "{source_zone}"' if source_zone else ""
        text = (f'calendar {{ timezone "{zone}" }}\n' + SOURCE.format(table=table, zone=own)
                + METRICS)
        (folder / "time.mspec").write_text(text, encoding="utf-8")
        ws = Workspace.load(folder)
        assert ws.ok, ws.render("text")
        out[name] = ws.index
    return out


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    schema = pa.schema([("ts", pa.timestamp("us")), ("user_id", pa.string()),
                        ("amount", pa.float64())])
    new_york = EVENTS.assign(ts=local("America/New_York"))
    return {"tz.events": pa.Table.from_pandas(EVENTS, schema=schema, preserve_index=False),
            "tz.events_ny": pa.Table.from_pandas(new_york, schema=schema,
                                                 preserve_index=False)}


_LOADED: set[int] = set()



def _run(engine: Engine, index: Index, tables: dict[str, pa.Table], metric: str, grain: str,
         start: dt.datetime | None, end: dt.datetime | None) -> dict[dt.datetime, Any]:
    if id(engine) not in _LOADED:
        engine.load(tables)
        _LOADED.add(id(engine))
    backend = get_backend(engine.name)
    sql = compile_object(index, metric, backend, grain=Grain.parse(grain), start=start,
                         end=end).sql
    got = answer(engine, sql, backend.sqlglot_dialect)
    return {naive_time(r[0]): r[-1] for r in got.rows}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_zoned_periods_match_pandas(case: Case, engine: Engine, indexes: dict[str, Index],
                                    tables: dict[str, pa.Table]) -> None:
    zone = PROJECTS[case.project][0]
    rows = _run(engine, indexes[case.project], tables, case.metric, case.grain, case.start,
                case.end)
    want = expected(zone, case.metric, case.grain, case.start, case.end)
    assert sorted(rows) == sorted(want), sorted(set(rows) ^ set(want))[:5]
    for key, value in want.items():
        actual = rows[key]
        assert actual is not None and math.isclose(float(actual), value, rel_tol=1e-9,
                                                     abs_tol=1e-9), (key, actual, value)


@pytest.mark.parametrize("project", ["berlin", "berlin_ny"])
def test_dst_days_have_23_and_25_hours(project: str, engine: Engine,
                                       indexes: dict[str, Index],
                                       tables: dict[str, pa.Table]) -> None:
    """One event per hour: the local day of each change counts its hours."""
    days = _run(engine, indexes[project], tables, "event_count", "day",
                dt.datetime(2026, 3, 28), dt.datetime(2026, 10, 27))
    assert float(days[dt.datetime(2026, 3, 28)]) == 24
    assert float(days[dt.datetime(2026, 3, 29)]) == 23
    assert float(days[dt.datetime(2026, 10, 25)]) == 25
    assert float(days[dt.datetime(2026, 10, 26)]) == 24
    hours = _run(engine, indexes[project], tables, "event_count", "hour",
                 dt.datetime(2026, 3, 29), dt.datetime(2026, 3, 30))
    assert len(hours) == 24 and float(hours[dt.datetime(2026, 3, 29, 2)]) == 0  # skipped
    hours = _run(engine, indexes[project], tables, "event_count", "hour",
                 dt.datetime(2026, 10, 25), dt.datetime(2026, 10, 26))
    assert len(hours) == 24 and float(hours[dt.datetime(2026, 10, 25, 2)]) == 2  # repeated
