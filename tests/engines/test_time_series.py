"""Time semantics (issue 12) run on every engine against pandas: dense series, calendar
grains, trailing and cumulative windows, and distinct counts over trailing windows.

The events (``timeq.events``) have gaps (empty days, an empty week, a channel that is
silent for days), events at month ends (23:59:59 on the last day, 00:00:00 on the first)
and at a fiscal-year boundary (31 March / 1 April). Each query is compiled for the
engine's dialect, run there, and compared row by row with a computation in pandas that
shares nothing with metricspec: its periods come from ``pandas.date_range``.
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

SPEC = """\
source events "Events" = table timeq.events {
  entity user_id: string
  time ts: timestamp
  dimension channel: string
  column amount: number
}
metric event_count = count(events)
metric revenue = sum(events.amount)
metric mean_amount = avg(events.amount)
metric users = count_distinct(events.user_id)
metric revenue_7d = rolling(revenue, 7 days)
metric cumulative_revenue = cumulative(revenue)
metric wau = rolling(users, 7 days)
metric mau = rolling(count_distinct(events.user_id where channel = 'chat'), 28 days)
"""


def _events() -> pd.DataFrame:
    """Deterministic events with gaps, month ends and a fiscal-year boundary."""
    rows: list[tuple[str, str, str, float]] = []
    day = dt.datetime(2026, 1, 20)
    n = 0
    while day < dt.datetime(2026, 4, 10):
        gap = dt.datetime(2026, 2, 3) <= day < dt.datetime(2026, 2, 13) or day.day in (7, 19)
        if not gap:
            for k in range(1 + (day.toordinal() % 3)):
                n += 1
                channel = "email" if (day.toordinal() + k) % 4 == 0 else "chat"
                at = day + dt.timedelta(hours=(7 * k + day.day) % 24, minutes=13 * k % 60)
                rows.append((at.isoformat(" "), f"u{(n * 7) % 9}", channel, float(n % 11) + 0.25))
        day += dt.timedelta(days=1)
    for at, user, channel, amount in (
            ("2026-01-31 23:59:59", "u1", "chat", 3.5), ("2026-02-01 00:00:00", "u2", "chat", 4.0),
            ("2026-02-28 23:30:00", "u3", "email", 1.0), ("2026-03-31 23:59:59", "u4", "chat", 2.0),
            ("2026-04-01 00:00:00", "u4", "email", 6.0)):
        rows.append((at, user, channel, amount))
    frame = pd.DataFrame(rows, columns=["ts", "user_id", "channel", "amount"])
    frame["ts"] = pd.to_datetime(frame["ts"])
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


EVENTS = _events()
FREQ = {"day": "D", "week": "W-MON", "month": "MS", "quarter": "QS", "year": "YS"}


def _floor(ts: pd.Series, grain: str) -> pd.Series:
    if grain == "week":
        days = ts.dt.normalize()
        return days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    if grain == "day":
        return ts.dt.normalize()
    return ts.dt.to_period({"month": "M", "quarter": "Q", "year": "Y"}[grain]).dt.start_time


def _periods(first: pd.Timestamp, last: pd.Timestamp, grain: str) -> pd.DatetimeIndex:
    return pd.date_range(first, last, freq=FREQ[grain])


def expected(metric: str, grain: str, start: dt.datetime | None, end: dt.datetime | None,
             dims: tuple[str, ...]) -> dict[tuple[Any, ...], float | None]:
    """The metric per (period, dims) over every period of the range, in pandas."""
    events = EVENTS.assign(period=_floor(EVENTS.ts, grain))
    inside = events
    if start is not None:
        inside = inside[inside.ts >= start]
    if end is not None:
        inside = inside[inside.ts < end]
    first = _floor(pd.Series([pd.Timestamp(start)]), grain)[0] if start else inside.period.min()
    last = (_floor(pd.Series([pd.Timestamp(end) - pd.Timedelta(seconds=1)]), grain)[0]
            if end else inside.period.max())
    periods = _periods(first, last, grain)
    combos = sorted(set(inside[list(dims)].itertuples(index=False, name=None))) if dims else [()]
    out: dict[tuple[Any, ...], float | None] = {}
    for combo in combos:
        mask = pd.Series(True, index=events.index)
        for d, v in zip(dims, combo, strict=True):
            mask &= events[d] == v
        mine = events[mask]
        for period in periods:
            stop = period + (pd.DateOffset(**{f"{grain}s": 1}) if grain in ("month", "year")
                             else pd.DateOffset(months=3) if grain == "quarter"
                             else pd.Timedelta(days=7 if grain == "week" else 1))
            cur = mine[(mine.ts >= period) & (mine.ts < stop)]
            if start is not None:
                cur = cur[cur.ts >= start]
            if end is not None:
                cur = cur[cur.ts < end]
            if metric == "revenue_7d":
                cur = mine[(mine.ts >= stop - pd.Timedelta(days=7)) & (mine.ts < stop)]
            if metric in ("wau", "mau"):
                days = 7 if metric == "wau" else 28
                cur = mine[(mine.ts >= stop - pd.Timedelta(days=days)) & (mine.ts < stop)]
                if metric == "mau":
                    cur = cur[cur.channel == "chat"]
                if end is not None:
                    cur = cur[cur.ts < end]
            if metric == "cumulative_revenue":
                cur = mine[mine.ts < stop]
            value: float | None
            if metric == "event_count":
                value = float(len(cur))
            elif metric in ("revenue", "revenue_7d", "cumulative_revenue"):
                value = float(cur.amount.sum())
            elif metric == "mean_amount":
                value = float(cur.amount.mean()) if len(cur) else None
            elif metric in ("users", "wau", "mau"):
                value = float(cur.user_id.nunique())
            else:  # pragma: no cover - a case names a metric above
                raise AssertionError(metric)
            out[(period.to_pydatetime(), *combo)] = value
    return out


@dataclass(frozen=True)
class Case:
    metric: str
    grain: str
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    dims: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        bounds = "open" if self.start is None else f"{self.start:%m%d}-{self.end:%m%d}"
        return "-".join([self.metric, self.grain, bounds, *self.dims])


JAN_APR = (dt.datetime(2026, 1, 26), dt.datetime(2026, 4, 6))
CASES = (
    Case("event_count", "day", *JAN_APR, ("channel",)),
    Case("revenue", "week", *JAN_APR),
    Case("mean_amount", "day", dt.datetime(2026, 2, 1), dt.datetime(2026, 2, 20)),
    Case("revenue_7d", "day", dt.datetime(2026, 2, 1), dt.datetime(2026, 3, 1), ("channel",)),
    Case("cumulative_revenue", "day", dt.datetime(2026, 2, 1), dt.datetime(2026, 2, 20)),
    Case("users", "month", *JAN_APR),
    Case("event_count", "month"),
    Case("revenue", "quarter", *JAN_APR, ("channel",)),
    Case("event_count", "year"),
    Case("wau", "day", dt.datetime(2026, 2, 1), dt.datetime(2026, 3, 3), ("channel",)),
    Case("mau", "week", *JAN_APR),
)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    folder: Path = tmp_path_factory.mktemp("timeq")
    (folder / "time.mspec").write_text(SPEC, encoding="utf-8")
    ws = Workspace.load(folder)
    assert ws.ok, ws.render("text")
    return ws.index


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    schema = pa.schema([("ts", pa.timestamp("us")), ("user_id", pa.string()),
                        ("channel", pa.string()), ("amount", pa.float64())])
    return {"timeq.events": pa.Table.from_pandas(EVENTS, schema=schema, preserve_index=False)}


_LOADED: set[int] = set()



@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_time_query_matches_pandas(case: Case, engine: Engine, index: Index,
                                   tables: dict[str, pa.Table]) -> None:
    if id(engine) not in _LOADED:
        engine.load(tables)
        _LOADED.add(id(engine))
    backend = get_backend(engine.name)
    sql = compile_object(index, case.metric, backend, grain=Grain.parse(case.grain),
                         dimensions=case.dims, start=case.start, end=case.end).sql
    got = answer(engine, sql, backend.sqlglot_dialect)
    rows = {tuple(naive_time(v) for v in r[:-1]): r[-1] for r in got.rows}
    want = expected(case.metric, case.grain, case.start, case.end, case.dims)
    assert list(rows) == sorted(want), (sorted(set(rows) ^ set(want)))[:5]
    for key, value in want.items():
        actual = rows[key]
        if value is None:
            assert actual is None or (isinstance(actual, float) and math.isnan(actual)), key
        else:
            assert actual is not None and math.isclose(float(actual), value, rel_tol=1e-9,
                                                         abs_tol=1e-9), (key, actual, value)


def test_windows_of_different_lengths_in_one_query(engine: Engine, index: Index,
                                                   tables: dict[str, pa.Table]) -> None:
    """Metrics rolling over 7 and 28 days in one query each get their own window."""
    from metricspec.pipeline.driver import compile_metrics
    from metricspec.pipeline.kinds import Request

    if id(engine) not in _LOADED:
        engine.load(tables)
        _LOADED.add(id(engine))
    backend = get_backend(engine.name)
    names = ["revenue_7d", "wau", "mau", "event_count"]
    start, end = dt.datetime(2026, 2, 10), dt.datetime(2026, 3, 12)
    sql = compile_metrics(index, names, backend,
                          Request(Grain.parse("day"), (), start, end)).sql
    got = answer(engine, sql, backend.sqlglot_dialect)
    for position, name in enumerate(names, 1):
        rows = {naive_time(r[0]): r[position] for r in got.rows}
        want = {k[0]: v for k, v in expected(name, "day", start, end, ()).items()}
        assert sorted(rows) == sorted(want), name
        for key, value in want.items():
            assert value is not None and math.isclose(float(rows[key]), value, rel_tol=1e-9,
                                                      abs_tol=1e-9), (name, key)
