"""Period over period and windows inside expressions (issue 12, item 4) on every engine,
against pandas: `offset`, `growth`, differences, offsets in calendar months (month ends) and
stickiness (a distinct count over its own 28-day window).

The events have gaps (no events on the 7th and 19th of each month, nor 3–12 February, so a
week or a month earlier is sometimes empty: its count is 0, and growth from it is NULL) and
events at month ends. Each query starts after the data does, so its first periods' offsets
come from before the requested start (the scanned range is extended). pandas computes each
value from the events of its own period and of the period the offset names
(`pandas.DateOffset(months=1)` clamps 31 March to 28 February, as metricspec does).
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
source events "Events" = table popq.events {
  entity user_id: string
  time ts: timestamp
  dimension channel: string
  column amount: number
}
metric event_count = count(events)
metric revenue = sum(events.amount)
metric users = count_distinct(events.user_id)
metric mau = rolling(users, 28 days)
metric wow_change = event_count - offset(event_count, 1 week)
metric revenue_growth_wow = growth(revenue, 1 week)
metric revenue_last_month = offset(revenue, 1 month)
metric revenue_growth_mom = growth(revenue, 1 month)
metric revenue_growth_qoq = growth(revenue, 1 quarter)
metric stickiness = users / mau
metric mau_last_week = offset(mau, 1 week)
metric mean_growth = growth(avg(events.amount), 1 day)
"""


def _events() -> pd.DataFrame:
    rows: list[tuple[str, str, str, float]] = []
    day = dt.datetime(2025, 10, 1)
    n = 0
    while day < dt.datetime(2026, 4, 6):
        gap = dt.datetime(2026, 2, 3) <= day < dt.datetime(2026, 2, 13) or day.day in (7, 19)
        if not gap:
            for k in range(1 + (day.toordinal() % 3)):
                n += 1
                channel = "email" if (day.toordinal() + k) % 4 == 0 else "chat"
                at = day + dt.timedelta(hours=(5 * k + day.day) % 24, minutes=11 * k % 60)
                rows.append((at.isoformat(" "), f"u{(n * 5) % 13}", channel,
                             float(n % 7) + 0.5))
        day += dt.timedelta(days=1)
    for at, user, channel, amount in (
            ("2026-01-31 23:59:59", "u1", "chat", 3.5), ("2026-02-28 23:30:00", "u3", "email", 1.0),
            ("2026-03-31 23:59:59", "u4", "chat", 2.0), ("2026-03-01 00:00:00", "u2", "chat", 4.0)):
        rows.append((at, user, channel, amount))
    frame = pd.DataFrame(rows, columns=["ts", "user_id", "channel", "amount"])
    frame["ts"] = pd.to_datetime(frame["ts"])
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


EVENTS = _events()
STEP = {"day": pd.DateOffset(days=1), "week": pd.DateOffset(days=7),
        "month": pd.DateOffset(months=1), "quarter": pd.DateOffset(months=3)}
FREQ = {"day": "D", "week": "W-MON", "month": "MS", "quarter": "QS"}


def _base(rows: pd.DataFrame, what: str) -> float | None:
    if what == "event_count":
        return float(len(rows))
    if what == "revenue":
        return float(rows.amount.sum())
    if what == "users":
        return float(rows.user_id.nunique())
    if what == "mean":
        return float(rows.amount.mean()) if len(rows) else None
    raise AssertionError(what)  # pragma: no cover - the cases name the measures above


def _growth(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before == 0:
        return None
    return now / before - 1


def expected(metric: str, grain: str, start: dt.datetime, end: dt.datetime,
             dims: tuple[str, ...]) -> dict[tuple[Any, ...], float | None]:
    """Each requested period's value, from the events in its own and earlier periods."""
    events = EVENTS[EVENTS.ts < end]
    periods = pd.date_range(start, end - pd.Timedelta(seconds=1), freq=FREQ[grain])
    combos = sorted(set(events[events.ts >= start][list(dims)].itertuples(
        index=False, name=None))) if dims else [()]
    out: dict[tuple[Any, ...], float | None] = {}
    for combo in combos:
        mine = events
        for d, v in zip(dims, combo, strict=True):
            mine = mine[mine[d] == v]

        def at(period: pd.Timestamp, what: str, mine: pd.DataFrame = mine) -> float | None:
            stop = period + STEP[grain]
            if what == "mau":
                return _base(mine[(mine.ts >= stop - pd.Timedelta(days=28)) & (mine.ts < stop)],
                             "users")
            return _base(mine[(mine.ts >= period) & (mine.ts < stop)], what)

        for period in periods:
            week, month = period - pd.Timedelta(days=7), period - pd.DateOffset(months=1)
            value = {
                "wow_change": lambda p=period, w=week: at(p, "event_count") - at(w, "event_count"),
                "revenue_growth_wow": lambda p=period, w=week: _growth(at(p, "revenue"),
                                                                       at(w, "revenue")),
                "revenue_last_month": lambda m=month: at(m, "revenue"),
                "revenue_growth_mom": lambda p=period, m=month: _growth(at(p, "revenue"),
                                                                        at(m, "revenue")),
                "revenue_growth_qoq": lambda p=period: _growth(
                    at(p, "revenue"), at(p - pd.DateOffset(months=3), "revenue")),
                "stickiness": lambda p=period: _ratio(at(p, "users"), at(p, "mau")),
                "mau_last_week": lambda w=week: at(w, "mau"),
                "mean_growth": lambda p=period: _growth(at(p, "mean"),
                                                        at(p - pd.Timedelta(days=1), "mean")),
            }[metric]()
            out[(period.to_pydatetime(), *combo)] = value
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


@dataclass(frozen=True)
class Case:
    metric: str
    grain: str
    start: dt.datetime
    end: dt.datetime
    dims: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return "-".join([self.metric, self.grain, *self.dims])


FEB_MAR = (dt.datetime(2026, 2, 9), dt.datetime(2026, 3, 25))
CASES = (
    Case("wow_change", "day", *FEB_MAR, ("channel",)),
    Case("revenue_growth_wow", "day", *FEB_MAR),
    Case("revenue_growth_wow", "week", dt.datetime(2026, 1, 5), dt.datetime(2026, 4, 6)),
    Case("revenue_last_month", "day", dt.datetime(2026, 3, 1), dt.datetime(2026, 4, 2)),
    Case("revenue_growth_mom", "month", dt.datetime(2025, 12, 1), dt.datetime(2026, 4, 1),
         ("channel",)),
    Case("revenue_growth_qoq", "month", dt.datetime(2026, 1, 1), dt.datetime(2026, 4, 1)),
    Case("stickiness", "day", *FEB_MAR, ("channel",)),
    Case("mau_last_week", "day", *FEB_MAR),
    Case("mean_growth", "day", *FEB_MAR),
)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    folder: Path = tmp_path_factory.mktemp("popq")
    (folder / "pop.mspec").write_text(SPEC, encoding="utf-8")
    ws = Workspace.load(folder)
    assert ws.ok, ws.render("text")
    return ws.index


_LOADED: set[int] = set()



def _load(engine: Engine) -> None:
    if id(engine) not in _LOADED:
        schema = pa.schema([("ts", pa.timestamp("us")), ("user_id", pa.string()),
                            ("channel", pa.string()), ("amount", pa.float64())])
        engine.load({"popq.events": pa.Table.from_pandas(EVENTS, schema=schema,
                                                         preserve_index=False)})
        _LOADED.add(id(engine))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_offsets_match_pandas(case: Case, engine: Engine, index: Index) -> None:
    _load(engine)
    backend = get_backend(engine.name)
    sql = compile_object(index, case.metric, backend, grain=Grain.parse(case.grain),
                         dimensions=case.dims, start=case.start, end=case.end).sql
    got = answer(engine, sql, backend.sqlglot_dialect)
    rows = {tuple(naive_time(v) for v in r[:-1]): r[-1] for r in got.rows}
    want = expected(case.metric, case.grain, case.start, case.end, case.dims)
    assert list(rows) == sorted(want), sorted(set(rows) ^ set(want))[:5]
    assert any(v not in (None, 0.0) for v in want.values()), "a case that cannot fail"
    nulls = 0
    for key, value in want.items():
        actual = rows[key]
        if value is None:
            nulls += 1
            assert actual is None or (isinstance(actual, float) and math.isnan(actual)), key
        else:
            assert actual is not None and math.isclose(float(actual), value, rel_tol=1e-9,
                                                         abs_tol=1e-9), (key, actual, value)
    if case.metric.startswith("revenue_growth_w") and case.grain == "day":
        assert nulls, "the data has days a week after an empty day: growth from 0 is NULL"


def test_a_gap_a_week_earlier_gives_a_null_growth_and_a_full_difference() -> None:
    """The reference itself: 14 Feb 2026 follows the empty 7 Feb by a week."""
    want = expected("revenue_growth_wow", "day", dt.datetime(2026, 2, 14),
                    dt.datetime(2026, 2, 15), ())
    assert want == {(dt.datetime(2026, 2, 14),): None}
    change = expected("wow_change", "day", dt.datetime(2026, 2, 14), dt.datetime(2026, 2, 15), ())
    count = len(EVENTS[(EVENTS.ts >= "2026-02-14") & (EVENTS.ts < "2026-02-15")])
    assert change == {(dt.datetime(2026, 2, 14),): float(count)} and count > 0


def test_month_end_takes_the_last_day_of_the_shorter_month(engine: Engine, index: Index) -> None:
    """29, 30 and 31 March all read 28 February (calendar months clamp the day)."""
    _load(engine)
    backend = get_backend(engine.name)
    sql = compile_object(index, "revenue_last_month", backend, grain=Grain.parse("day"),
                         start=dt.datetime(2026, 3, 28), end=dt.datetime(2026, 4, 1)).sql
    got = {naive_time(r[0]): r[1] for r in answer(engine, sql, backend.sqlglot_dialect).rows}
    feb28 = float(EVENTS[(EVENTS.ts >= "2026-02-28") & (EVENTS.ts < "2026-03-01")].amount.sum())
    feb28_is_not_feb_26 = float(EVENTS[(EVENTS.ts >= "2026-02-26")
                                       & (EVENTS.ts < "2026-02-27")].amount.sum())
    assert feb28 != feb28_is_not_feb_26
    for day in (29, 30, 31):
        assert math.isclose(float(got[dt.datetime(2026, 3, day)]), feb28), day
