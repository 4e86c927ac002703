"""Semi-additive measures and approximate distinct counts (issue 12, items 5 and 6) run on
every engine against pandas.

The snapshots (``semiq.snapshots``: one balance per account, usually at 00:00 each day)
have gaps (accounts skip days; no snapshot at all from 3 to 15 February, so a whole ISO
week is empty), accounts snapshotted twice a day, a tie (two rows of one account at its
last moment), rows at month ends (23:59:59 on the last day) and an account that moves to
another region, so a balance by region takes each account's region from its chosen row.
The expected values are computed in pandas from the documented meaning (docs/language.md,
"Time"): per period (and the query's range), each account's rows at its latest (`first`:
earliest) snapshot time, summed; without `per`, the rows at the period's own latest time;
a period without a chosen row is NULL.

Approximate distinct counts (HyperLogLog) are compared with the exact count of the same
rows: within three times the largest default relative standard error of the engines
(Spark's `approx_count_distinct`, 5%), per period and over trailing 7-day windows.
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
source snaps "Balances" = table semiq.snapshots {
  entity account_id: string
  time snapshot_ts: timestamp
  dimension region: string
  column balance: number
}
source events "Events" = table semiq.events {
  entity user_id: string
  time ts: timestamp
  dimension channel: string
}
metric balance = sum(snaps.balance, last per account_id)
metric opening_balance = sum(snaps.balance, first per account_id)
metric balance_at_close = sum(snaps.balance, last)
metric mean_balance = avg(snaps.balance, last per account_id)
metric users = count_distinct(events.user_id)
metric users_approx = count_distinct(events.user_id, approximate)
metric wau = rolling(users, 7 days)
metric wau_approx = rolling(users_approx, 7 days)
"""
#: Three times the largest default relative standard error among the engines (Spark, 5%).
HLL_TOLERANCE = 0.15


def _snapshots() -> pd.DataFrame:
    rows: list[tuple[str, str, str, float]] = []
    day = dt.datetime(2026, 1, 20)
    while day < dt.datetime(2026, 4, 10):
        if not dt.datetime(2026, 2, 3) <= day < dt.datetime(2026, 2, 16):
            for k in range(8):
                if (day.toordinal() + k) % 5 == 0:
                    continue  # this account's snapshot job missed the day
                region = "apac" if k == 3 and day >= dt.datetime(2026, 3, 1) else (
                    "eu" if k % 2 else "na")
                value = float(100 * k + day.toordinal() % 17)
                rows.append((day.isoformat(" "), f"a{k}", region, value))
                if k % 3 == 0:  # a second snapshot later the same day
                    rows.append(((day + dt.timedelta(hours=12)).isoformat(" "), f"a{k}",
                                 region, value + 1.5))
        day += dt.timedelta(days=1)
    rows += [("2026-01-31 23:59:59", "a1", "eu", 7.0), ("2026-03-31 23:59:59", "a2", "na", 9.0),
             ("2026-03-15 18:00:00", "a2", "na", 4.0), ("2026-03-15 18:00:00", "a2", "na", 6.0)]
    frame = pd.DataFrame(rows, columns=["snapshot_ts", "account_id", "region", "balance"])
    frame["snapshot_ts"] = pd.to_datetime(frame["snapshot_ts"])
    return frame.sort_values("snapshot_ts", kind="stable").reset_index(drop=True)


def _events() -> pd.DataFrame:
    rows: list[tuple[str, str, str]] = []
    day = dt.datetime(2026, 1, 20)
    while day < dt.datetime(2026, 3, 20):
        if day.day not in (7, 19):
            for i in range(120):
                user = (day.toordinal() * 37 + i * 101) % 2500
                at = day + dt.timedelta(minutes=(i * 31) % 1440)
                rows.append((at.isoformat(" "), f"u{user}", "chat" if i % 3 else "email"))
        day += dt.timedelta(days=1)
    frame = pd.DataFrame(rows, columns=["ts", "user_id", "channel"])
    frame["ts"] = pd.to_datetime(frame["ts"])
    return frame


SNAPSHOTS, EVENTS = _snapshots(), _events()
FREQ = {"day": "D", "week": "W-MON", "month": "MS"}


def _floor(ts: pd.Series, grain: str) -> pd.Series:
    days = ts.dt.normalize()
    if grain == "week":
        return days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    if grain == "month":
        return ts.dt.to_period("M").dt.start_time
    return days


def _range(frame: pd.DataFrame, time: str, start: dt.datetime | None,
           end: dt.datetime | None) -> pd.DataFrame:
    if start is not None:
        frame = frame[frame[time] >= start]
    if end is not None:
        frame = frame[frame[time] < end]
    return frame


def _spine(periods: pd.Series, grain: str, start: dt.datetime | None,
           end: dt.datetime | None) -> pd.DatetimeIndex:
    first = _floor(pd.Series([pd.Timestamp(start)]), grain)[0] if start else periods.min()
    last = (_floor(pd.Series([pd.Timestamp(end) - pd.Timedelta(seconds=1)]), grain)[0]
            if end else periods.max())
    return pd.date_range(first, last, freq=FREQ[grain])


def expected_balance(metric: str, grain: str, start: dt.datetime | None,
                     end: dt.datetime | None, dims: tuple[str, ...]
                     ) -> dict[tuple[Any, ...], float | None]:
    frame = _range(SNAPSHOTS, "snapshot_ts", start, end)
    frame = frame.assign(period=_floor(frame.snapshot_ts, grain))
    pick = "min" if metric == "opening_balance" else "max"
    by = ["period"] if metric == "balance_at_close" else ["period", "account_id"]
    chosen = frame[frame.snapshot_ts == frame.groupby(by).snapshot_ts.transform(pick)]
    combos = sorted(set(chosen[list(dims)].itertuples(index=False, name=None))) if dims \
        else [()]
    out: dict[tuple[Any, ...], float | None] = {}
    for period in _spine(frame.period, grain, start, end):
        for combo in combos:
            mine = chosen[chosen.period == period]
            for d, v in zip(dims, combo, strict=True):
                mine = mine[mine[d] == v]
            values = mine.balance
            out[(period.to_pydatetime(), *combo)] = (
                None if values.empty else float(values.mean() if metric == "mean_balance"
                                                 else values.sum()))
    return out


def expected_users(metric: str, start: dt.datetime, end: dt.datetime,
                   dims: tuple[str, ...]) -> dict[tuple[Any, ...], float]:
    """Exact distinct users per day (or over the 7 days up to each day's end)."""
    frame = EVENTS.assign(period=_floor(EVENTS.ts, "day"))
    combos = sorted(set(_range(frame, "ts", start, end)[list(dims)].itertuples(
        index=False, name=None))) if dims else [()]
    out: dict[tuple[Any, ...], float] = {}
    for period in pd.date_range(start, end - dt.timedelta(seconds=1), freq="D"):
        stop = period + pd.Timedelta(days=1)
        lo = stop - pd.Timedelta(days=7) if metric.startswith("wau") else period
        for combo in combos:
            mine = frame[(frame.ts >= lo) & (frame.ts < stop) & (frame.ts < end)]
            for d, v in zip(dims, combo, strict=True):
                mine = mine[mine[d] == v]
            out[(period.to_pydatetime(), *combo)] = float(mine.user_id.nunique())
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
BALANCE_CASES = (
    Case("balance", "day", dt.datetime(2026, 1, 28), dt.datetime(2026, 2, 16), ("region",)),
    Case("balance", "week", *JAN_APR),
    Case("balance", "month"),
    Case("balance", "month", *JAN_APR, ("region",)),
    Case("opening_balance", "week", *JAN_APR, ("region",)),
    Case("balance_at_close", "month", *JAN_APR),
    Case("mean_balance", "week"),
)
FEB = (dt.datetime(2026, 2, 1), dt.datetime(2026, 3, 3))
APPROX_CASES = (Case("users_approx", "day", *FEB), Case("wau_approx", "day", *FEB, ("channel",)))


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    folder: Path = tmp_path_factory.mktemp("semiq")
    (folder / "semi.mspec").write_text(SPEC, encoding="utf-8")
    ws = Workspace.load(folder)
    assert not [d for d in ws.diagnostics if d.severity.value == "error"], ws.render("text")
    return ws.index


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    snaps = pa.schema([("snapshot_ts", pa.timestamp("us")), ("account_id", pa.string()),
                       ("region", pa.string()), ("balance", pa.float64())])
    events = pa.schema([("ts", pa.timestamp("us")), ("user_id", pa.string()),
                        ("channel", pa.string())])
    return {"semiq.snapshots": pa.Table.from_pandas(SNAPSHOTS, schema=snaps,
                                                    preserve_index=False),
            "semiq.events": pa.Table.from_pandas(EVENTS, schema=events, preserve_index=False)}


_LOADED: set[int] = set()



def _rows(engine: Engine, index: Index, tables: dict[str, pa.Table], case: Case
          ) -> dict[tuple[Any, ...], Any]:
    if id(engine) not in _LOADED:
        engine.load(tables)
        _LOADED.add(id(engine))
    backend = get_backend(engine.name)
    sql = compile_object(index, case.metric, backend, grain=Grain.parse(case.grain),
                         dimensions=case.dims, start=case.start, end=case.end).sql
    got = answer(engine, sql, backend.sqlglot_dialect)
    return {tuple(naive_time(v) for v in r[:-1]): r[-1] for r in got.rows}


def test_the_data_has_what_the_semantics_turn_on() -> None:
    """Gaps, an empty week, same-day snapshots, a tie and a region change are present."""
    days = set(SNAPSHOTS.snapshot_ts.dt.normalize())
    assert pd.Timestamp(2026, 2, 10) not in days  # the week of 9 February is empty
    per_day = SNAPSHOTS.groupby([SNAPSHOTS.snapshot_ts.dt.normalize(), "account_id"]).size()
    assert (per_day > 1).any()
    assert SNAPSHOTS.duplicated(["snapshot_ts", "account_id"]).any()
    assert SNAPSHOTS[SNAPSHOTS.account_id == "a3"].region.nunique() == 2


@pytest.mark.parametrize("case", BALANCE_CASES, ids=lambda c: c.id)
def test_semi_additive_matches_pandas(case: Case, engine: Engine, index: Index,
                                      tables: dict[str, pa.Table]) -> None:
    rows = _rows(engine, index, tables, case)
    want = expected_balance(case.metric, case.grain, case.start, case.end, case.dims)
    assert sorted(rows) == sorted(want), sorted(set(rows) ^ set(want))[:5]
    assert any(v is None for v in want.values()) or case.grain == "month"
    for key, value in want.items():
        actual = rows[key]
        if value is None:
            assert actual is None or (isinstance(actual, float) and math.isnan(actual)), key
        else:
            assert actual is not None and math.isclose(float(actual), value, rel_tol=1e-9), (
                key, actual, value)


@pytest.mark.parametrize("case", APPROX_CASES, ids=lambda c: c.id)
def test_approximate_distinct_counts_are_near_the_exact_ones(
        case: Case, engine: Engine, index: Index, tables: dict[str, pa.Table]) -> None:
    backend = get_backend(engine.name)
    if backend.spellings.approx_count_distinct is None:
        pytest.skip(f"{backend.title} has no approximate distinct count (check: MS455)")
    rows = _rows(engine, index, tables, case)
    assert case.start is not None and case.end is not None
    want = expected_users(case.metric, case.start, case.end, case.dims)
    assert sorted(rows) == sorted(want)
    assert max(want.values()) > 100  # large enough for HyperLogLog to estimate
    for key, exact in want.items():
        assert abs(float(rows[key]) - exact) <= HLL_TOLERANCE * exact + 1, (key, rows[key], exact)
