"""Calendar grains and windows (issue 12, item 2) run on every engine against pandas: weeks
from Sunday, fiscal quarters and years from April, rolling windows in calendar months
(sums and exact distinct counts), to-date metrics (calendar and fiscal) and `--grain none`.

The events have gaps (ten empty days in February, the 7th and 19th of every month), events
at month ends (31 January 23:59:59 → 1 February 00:00:00, 28 February) and at the fiscal
year boundary (31 March 23:59:59 / 1 April 00:00:00). The reference shares nothing with
metricspec: periods are pandas' (`date_range` with `W-SUN`, `QS-APR`, `YS-APR`; fiscal
floors from `Period('Q-MAR')`), months are `pandas.DateOffset`.
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
calendar {
  week_start sunday
  fiscal_year_start april
}
source events "Events" = table calq.events {
  entity user_id: string
  time ts: timestamp
  dimension channel: string
  column amount: number
}
metric event_count = count(events)
metric revenue = sum(events.amount)
metric users = count_distinct(events.user_id)
metric revenue_3m = rolling(revenue, 3 months)
metric revenue_1q = rolling(revenue, 1 quarter)
metric mau = rolling(users, 1 month)
metric revenue_mtd = to_date(revenue, month)
metric revenue_qtd = to_date(revenue, quarter)
metric revenue_ytd = to_date(revenue, year)
metric revenue_fqtd = to_date(revenue, fiscal_quarter)
metric revenue_fytd = to_date(revenue, fiscal_year)
metric events_wtd = to_date(event_count, week)
metric revenue_7d = rolling(revenue, 7 days)
metric users_7d = rolling(users, 7 days)
"""


def _events() -> pd.DataFrame:
    rows: list[tuple[str, str, str, float]] = []
    day = dt.datetime(2025, 12, 20)
    n = 0
    while day < dt.datetime(2026, 4, 20):
        gap = dt.datetime(2026, 2, 3) <= day < dt.datetime(2026, 2, 13) or day.day in (7, 19)
        if not gap:
            for k in range(1 + (day.toordinal() % 3)):
                n += 1
                channel = "email" if (day.toordinal() + k) % 4 == 0 else "chat"
                at = day + dt.timedelta(hours=(7 * k + day.day) % 24, minutes=13 * k % 60)
                rows.append((at.isoformat(" "), f"u{(n * 7) % 13}", channel, float(n % 11) + 0.5))
        day += dt.timedelta(days=1)
    for at, user, channel, amount in (
            ("2026-01-31 23:59:59", "u21", "chat", 3.5),
            ("2026-02-01 00:00:00", "u22", "chat", 4.0),
            ("2026-02-28 23:30:00", "u23", "email", 1.0),
            ("2026-03-31 23:59:59", "u24", "chat", 2.0),
            ("2026-04-01 00:00:00", "u24", "email", 6.0)):
        rows.append((at, user, channel, amount))
    frame = pd.DataFrame(rows, columns=["ts", "user_id", "channel", "amount"])
    frame["ts"] = pd.to_datetime(frame["ts"])
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


EVENTS = _events()
FREQ = {"day": "D", "week": "W-SUN", "month": "MS", "quarter": "QS",
        "fiscal_quarter": "QS-APR", "fiscal_year": "YS-APR", "year": "YS"}
PERIOD_OF = {"month": "M", "quarter": "Q", "year": "Y", "fiscal_quarter": "Q-MAR",
             "fiscal_year": "Y-MAR"}
MONTHS = {"month": 1, "quarter": 3, "year": 12, "fiscal_quarter": 3, "fiscal_year": 12}


def _floor(ts: pd.Series, grain: str) -> pd.Series:
    days = ts.dt.normalize()
    if grain == "day":
        return days
    if grain == "week":  # Sunday: pandas' Monday-based weekday, shifted by one
        return days - pd.to_timedelta((days.dt.day_of_week + 1) % 7, unit="D")
    return ts.dt.to_period(PERIOD_OF[grain]).dt.start_time


def _stop(period: pd.Timestamp, grain: str) -> pd.Timestamp:
    if grain in MONTHS:
        return period + pd.DateOffset(months=MONTHS[grain])
    return period + pd.Timedelta(days=7 if grain == "week" else 1)


METRICS: dict[str, tuple[str, str, Any]] = {
    # name: (value, kind, argument)
    "event_count": ("count", "plain", None), "revenue": ("sum", "plain", None),
    "users": ("distinct", "plain", None),
    "revenue_3m": ("sum", "months", 3), "revenue_1q": ("sum", "months", 3),
    "mau": ("distinct", "months", 1),
    "revenue_mtd": ("sum", "to_date", "month"), "revenue_qtd": ("sum", "to_date", "quarter"),
    "revenue_ytd": ("sum", "to_date", "year"),
    "revenue_fqtd": ("sum", "to_date", "fiscal_quarter"),
    "revenue_fytd": ("sum", "to_date", "fiscal_year"),
    "events_wtd": ("count", "to_date", "week"),
    "revenue_7d": ("sum", "days", 7), "users_7d": ("distinct", "days", 7),
}


def _value(rows: pd.DataFrame, how: str) -> float:
    if how == "count":
        return float(len(rows))
    if how == "sum":
        return float(rows.amount.sum())
    return float(rows.user_id.nunique())


def expected(metric: str, grain: str, start: dt.datetime, end: dt.datetime,
             dims: tuple[str, ...]) -> dict[tuple[Any, ...], float]:
    """The metric per (period, dims) over every period of [start, end), in pandas."""
    how, kind, arg = METRICS[metric]
    events = EVENTS[EVENTS.ts < end]
    inside = events[events.ts >= start]
    combos = sorted(set(inside[list(dims)].itertuples(index=False, name=None))) if dims else [()]
    out: dict[tuple[Any, ...], float] = {}
    for combo in combos:
        mask = pd.Series(True, index=events.index)
        for d, v in zip(dims, combo, strict=True):
            mask &= events[d] == v
        mine = events[mask]
        if grain == "none":
            out[combo] = _value(mine[mine.ts >= start], how)
            continue
        first = _floor(pd.Series([pd.Timestamp(start)]), grain)[0]
        last = _floor(pd.Series([pd.Timestamp(end) - pd.Timedelta(seconds=1)]), grain)[0]
        for period in pd.date_range(first, last, freq=FREQ[grain]):
            stop = _stop(period, grain)
            if kind == "plain":
                lo = max(period, pd.Timestamp(start))
            elif kind == "months":
                lo = stop - pd.DateOffset(months=arg)
            elif kind == "days":
                lo = stop - pd.Timedelta(days=arg)
            else:
                lo = _floor(pd.Series([period]), arg)[0]
            out[(period.to_pydatetime(), *combo)] = _value(
                mine[(mine.ts >= lo) & (mine.ts < stop)], how)
    return out


@dataclass(frozen=True)
class Case:
    metric: str
    grain: str
    start: dt.datetime
    end: dt.datetime
    dims: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return "-".join([self.metric, self.grain, f"{self.start:%m%d}-{self.end:%m%d}",
                         *self.dims])


D = dt.datetime
CASES = (
    Case("revenue", "week", D(2026, 1, 25), D(2026, 4, 5), ("channel",)),
    Case("event_count", "week", D(2026, 2, 1), D(2026, 3, 1)),
    Case("revenue", "fiscal_quarter", D(2026, 1, 1), D(2026, 4, 20), ("channel",)),
    Case("event_count", "fiscal_year", D(2026, 1, 1), D(2026, 4, 20)),
    Case("revenue", "fiscal_year", D(2025, 12, 20), D(2026, 4, 20)),
    Case("revenue_3m", "month", D(2026, 3, 1), D(2026, 5, 1), ("channel",)),
    Case("revenue_3m", "day", D(2026, 3, 25), D(2026, 4, 5)),
    Case("revenue_1q", "quarter", D(2026, 1, 1), D(2026, 7, 1)),
    Case("mau", "day", D(2026, 2, 25), D(2026, 4, 3), ("channel",)),
    Case("mau", "month", D(2026, 2, 1), D(2026, 5, 1)),
    Case("revenue_mtd", "day", D(2026, 1, 26), D(2026, 3, 3), ("channel",)),
    Case("revenue_mtd", "month", D(2026, 1, 1), D(2026, 4, 1)),
    Case("revenue_qtd", "day", D(2026, 3, 20), D(2026, 4, 10)),
    Case("revenue_qtd", "month", D(2026, 2, 1), D(2026, 5, 1), ("channel",)),
    Case("revenue_ytd", "month", D(2026, 1, 1), D(2026, 4, 1)),
    Case("revenue_ytd", "day", D(2025, 12, 28), D(2026, 1, 4)),
    Case("revenue_fqtd", "day", D(2026, 3, 28), D(2026, 4, 4)),
    Case("revenue_fytd", "month", D(2026, 2, 1), D(2026, 5, 1)),
    Case("revenue_fytd", "fiscal_quarter", D(2026, 1, 1), D(2026, 7, 1)),
    Case("events_wtd", "day", D(2026, 2, 10), D(2026, 2, 24), ("channel",)),
    Case("revenue", "none", D(2026, 1, 31), D(2026, 4, 1)),
    Case("users", "none", D(2026, 2, 1), D(2026, 3, 1), ("channel",)),
)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    folder: Path = tmp_path_factory.mktemp("calq")
    (folder / "calendar.mspec").write_text(SPEC, encoding="utf-8")
    ws = Workspace.load(folder)
    assert ws.ok, ws.render("text")
    return ws.index


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    schema = pa.schema([("ts", pa.timestamp("us")), ("user_id", pa.string()),
                        ("channel", pa.string()), ("amount", pa.float64())])
    return {"calq.events": pa.Table.from_pandas(EVENTS, schema=schema, preserve_index=False)}


_LOADED: set[int] = set()



@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_calendar_query_matches_pandas(case: Case, engine: Engine, index: Index,
                                       tables: dict[str, pa.Table]) -> None:
    if id(engine) not in _LOADED:
        engine.load(tables)
        _LOADED.add(id(engine))
    backend = get_backend(engine.name)
    sql = compile_object(index, case.metric, backend, grain=Grain.parse(case.grain),
                         dimensions=case.dims, start=case.start, end=case.end).sql
    got = answer(engine, sql, backend.sqlglot_dialect)
    assert ("period" in got.columns) is (case.grain != "none")
    rows = {tuple(naive_time(v) for v in r[:-1]): r[-1] for r in got.rows}
    want = expected(case.metric, case.grain, case.start, case.end, case.dims)
    assert list(rows) == sorted(want), sorted(set(rows) ^ set(want))[:5]
    for key, value in want.items():
        actual = rows[key]
        assert actual is not None and math.isclose(float(actual), value, rel_tol=1e-9,
                                                    abs_tol=1e-9), (key, actual, value)


def test_the_reference_sees_the_boundaries() -> None:
    """The cases above cross what they claim to: the fiscal year turns between two events
    one second apart, and a month window at day grain ends on a clamped month end."""
    fy = expected("revenue", "fiscal_year", D(2025, 12, 20), D(2026, 4, 20), ())
    assert sorted(k[0] for k in fy) == [D(2025, 4, 1), D(2026, 4, 1)]
    assert all(v > 0 for v in fy.values())
    march = expected("revenue_3m", "day", D(2026, 3, 30), D(2026, 3, 31), ())
    since = EVENTS[(EVENTS.ts >= D(2025, 12, 31)) & (EVENTS.ts < D(2026, 3, 31))]
    assert march == {(D(2026, 3, 30),): float(since.amount.sum())}


def test_calendar_and_day_windows_in_one_query(engine: Engine, index: Index,
                                               tables: dict[str, pa.Table]) -> None:
    """Month windows, to-date metrics and windows in days share one query (one self-join
    reaching the longest, each window cut to its own periods) and keep their values."""
    from metricspec.pipeline.driver import compile_metrics
    from metricspec.pipeline.kinds import Request

    if id(engine) not in _LOADED:
        engine.load(tables)
        _LOADED.add(id(engine))
    backend = get_backend(engine.name)
    names = ["revenue_7d", "mau", "users_7d", "revenue_mtd", "revenue_fqtd",
             "event_count"]
    start, end = D(2026, 3, 28), D(2026, 4, 4)  # a month end and a fiscal year turn
    sql = compile_metrics(index, names, backend, Request(Grain.parse("day"), (), start, end)).sql
    got = answer(engine, sql, backend.sqlglot_dialect)
    for position, name in enumerate(names, 1):
        rows = {naive_time(r[0]): r[position] for r in got.rows}
        want = {k[0]: v for k, v in expected(name, "day", start, end, ()).items()}
        assert sorted(rows) == sorted(want), name
        for key, value in want.items():
            assert math.isclose(float(rows[key]), value, rel_tol=1e-9, abs_tol=1e-9), \
                (name, key, rows[key], value)
