"""Metric queries executed on DuckDB equal an independent pandas computation.

For every metric of `specs/` (ratios with filters, averages, counts, distinct counts, exact
percentiles, derived and weighted metrics, a conversion, rolling and cumulative windows), at
the grains day, week, month, hour and 15 minutes, by zero, one and two dimensions, with and
without a [start, end) range. The expected values come from `sql_reference`, written from
the specs' meaning. Counts must match exactly; everything else to 1e-9 relative.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import pytest
from sql_reference import COUNT_METRICS, METRICS, Query, Tables, assert_same_rows, metric_frame

from metricspec.backends import get_backend
from metricspec.pipeline import CompileError, compile_object
from metricspec.plan.metric_query import Grain
from metricspec.semantic import Index

OCTOBER = (dt.datetime(2026, 10, 1), dt.datetime(2026, 10, 15))
INCIDENT_WEEK = (dt.datetime(2026, 11, 10), dt.datetime(2026, 11, 17))
LAST_DAYS = (dt.datetime(2026, 11, 14), dt.datetime(2026, 11, 17))


def check(run_sql: Callable[..., pd.DataFrame], tables: Tables, name: str, q: Query) -> None:
    actual = run_sql(name, grain=Grain.parse(q.grain), dimensions=q.dims, start=q.start,
                     end=q.end)
    expected = metric_frame(tables, name, q)
    assert list(actual.columns) == [*q.keys, name]
    assert len(expected) > 0
    assert_same_rows(actual, expected, q.keys, exact={name} if name in COUNT_METRICS else ())


def test_every_example_metric_is_covered(index: Index) -> None:
    assert set(index.metrics) == set(METRICS)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_by_day(run_sql, tables, name: str) -> None:
    check(run_sql, tables, name, Query("day"))


#: A range inside the data of a metric whose source does not reach October.
IN_RANGE = {"checkout_spend": (dt.datetime(2026, 11, 3), dt.datetime(2026, 11, 6))}


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_by_day_in_a_range(run_sql, tables, name: str) -> None:
    check(run_sql, tables, name, Query("day", (), *IN_RANGE.get(name, OCTOBER)))


GRAINS = {
    "hour": INCIDENT_WEEK,
    "15 minutes": LAST_DAYS,
    "week": (None, None),
    "month": (None, None),
}
AT_EVERY_GRAIN = ["csat", "csat_score", "deflection_rate", "trust_score", "latency_p50",
                  "latency_p99", "conversation_count", "active_users", "cumulative_cost",
                  "thumbs_up_within_a_day", "cost_per_conversation", "tokens_per_answer",
                  "backlog"]
ROLLING = ["csat_7d", "conversations_7d", "weekly_active_users"]


@pytest.mark.parametrize("grain", list(GRAINS))
@pytest.mark.parametrize("name", AT_EVERY_GRAIN + ROLLING)
def test_metric_at_grain(run_sql, tables, name: str, grain: str) -> None:
    if name in ROLLING and grain == "month":
        pytest.skip("a 7-day window is not a whole number of months (see the test below)")
    check(run_sql, tables, name, Query(grain, (), *GRAINS[grain]))


@pytest.mark.parametrize("name", ["csat", "trust_score", "cumulative_cost", "active_users",
                                  "conversations_wow"])
def test_metric_at_grain_without_range_end(run_sql, tables, name: str) -> None:
    check(run_sql, tables, name, Query("hour", (), dt.datetime(2026, 11, 15), None))


def test_rolling_window_must_tile_the_grain(index: Index) -> None:
    with pytest.raises(CompileError, match="not a whole number"):
        compile_object(index, "csat_7d", get_backend("duckdb"), grain=Grain.parse("month"))


@pytest.mark.parametrize("grain", ["hour", "week"])
def test_offsets_at_grains_that_divide_them(run_sql, tables, grain: str) -> None:
    for name in ("conversations_wow", "conversations_growth_wow"):
        check(run_sql, tables, name, Query(grain, (), *GRAINS[grain]))


def test_an_offset_must_be_whole_periods(index: Index) -> None:
    with pytest.raises(CompileError, match="offset by 1 week, which is not a whole number"):
        compile_object(index, "conversations_wow", get_backend("duckdb"),
                       grain=Grain.parse("month"))


BY_ONE = [
    ("csat", "channel"), ("csat_score", "channel"), ("hallucination_rate", "model_version"),
    ("latency_p95", "channel"), ("active_users", "channel"), ("conversation_count", "locale"),
    ("csat_7d", "channel"), ("conversations_7d", "model_version"),
    ("cumulative_cost", "model_version"), ("thumbs_up_within_a_day", "channel"),
    ("trust_score", "channel"), ("cost_per_conversation", "model_version"),
    ("deflection_rate", "channel"), ("tokens_per_answer", "channel"),
    ("backlog", "channel"), ("backlog", "queue_id"),
    ("stickiness", "channel"), ("conversations_wow", "model_version"),
    ("conversations_growth_wow", "channel"), ("conversations_wow", "locale"),
]
BY_TWO = [
    ("hallucination_rate", ("channel", "model_version")),
    ("latency_p99", ("channel", "model_version")),
    ("conversation_count", ("channel", "locale")),
    ("active_users", ("model_version", "locale")),
    ("conversations_7d", ("channel", "model_version")),
    ("cumulative_cost", ("channel", "model_version")),
    ("queries_per_conversation", ("channel", "model_version")),
    ("thumbs_up_within_a_day", ("channel", "locale")),
    ("conversations_wow", ("channel", "model_version")),
    ("conversations_growth_wow", ("channel", "locale")),
]


@pytest.mark.parametrize(("name", "dim"), BY_ONE)
def test_metric_by_one_dimension(run_sql, tables, name: str, dim: str) -> None:
    # odd cases over all the data, even ones over a range (with a rolling lookback)
    start, end = OCTOBER if BY_ONE.index((name, dim)) % 2 else (None, None)
    check(run_sql, tables, name, Query("day", (dim,), start, end))


@pytest.mark.parametrize(("name", "dims"), BY_TWO)
def test_metric_by_two_dimensions(run_sql, tables, name: str, dims: tuple[str, str]) -> None:
    # alternately by day over a range and by week over all the data
    grain, (start, end) = ("day", OCTOBER) if BY_TWO.index((name, dims)) % 2 else (
        "week", (None, None))
    check(run_sql, tables, name, Query(grain, dims, start, end))


def test_percentiles_are_exact(run_sql, tables) -> None:
    """DuckDB's exact percentile equals numpy's linear quantile to 1e-9, everywhere."""
    q = Query("hour", ("channel",), *INCIDENT_WEEK)
    for name in ("latency_p50", "latency_p95", "latency_p99"):
        actual = run_sql(name, grain=Grain.parse(q.grain), dimensions=q.dims, start=q.start,
                         end=q.end)
        assert_same_rows(actual, metric_frame(tables, name, q), q.keys, rel=1e-9, abs_tol=0)


def test_rolling_counts_gaps_as_time(con, index) -> None:
    """A rolling window spans calendar time: periods without data still age out of it."""
    q = compile_object(index, "conversations_7d", get_backend("duckdb"),
                       grain=Grain.parse("day"), dimensions=("locale",),
                       start=dt.datetime(2026, 10, 1), end=dt.datetime(2026, 11, 1)).sql
    rows = con.execute(q).df()
    daily = con.execute(
        "SELECT DATE_TRUNC('day', started_ts) AS d, locale, COUNT(*) AS n "
        "FROM support.conversations GROUP BY ALL").df()
    # every row's value is the sum of the counts of the seven calendar days ending on it
    for row in rows.sample(n=min(25, len(rows)), random_state=1).itertuples():
        window = daily[(daily.locale == row.locale) & (daily.d <= row.period)
                       & (daily.d > row.period - pd.Timedelta(days=7))]
        assert row.conversations_7d == window.n.sum()
