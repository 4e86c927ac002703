"""SQL of calendar windows: rolling windows in months and to-date metrics (`plan.calendar`).

- `rolling(m, N months)` at period p covers the calendar months [p + grain − N months,
  p + grain): at month grain the N months ending with p's; at day grain, with 1 month,
  31 March's window is 1–31 March and 30 March's 28 February–30 March (2026).
- `to_date(m, month)` at period p sums the periods from the start of p's month through p
  (a cumulative sum partitioned by the month).
"""

from __future__ import annotations

from sqlglot import exp

from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.plan.calendar import to_date_grain
from metricspec.plan.lower import InternalError, WindowSpec
from metricspec.plan.metric_query import Grain

#: The longest a calendar month can be, in seconds: a self-join's bound for month windows.
MONTH_BOUND = 31 * 86400


def period_end(sql: SqlBuilder, period: exp.Expr, grain: Grain) -> exp.Expr:
    """The first instant after the `grain` period starting at `period`."""
    if grain.months is not None:
        return sql.add_months(period, grain.months)
    if grain.seconds is None:
        raise InternalError(f"a {grain} period has no end")
    return sql.ts_add(period, grain.seconds)


def window_start(sql: SqlBuilder, period: exp.Expr, grain: Grain, months: int) -> exp.Expr:
    """The first instant of the `months` window of the period starting at `period`."""
    return sql.add_months(period_end(sql, period, grain), -months)


def to_date_key(sql: SqlBuilder, period: exp.Expr, grain: Grain,
                window: WindowSpec) -> exp.Expr:
    """The to-date period a period belongs to (what its running sum restarts at)."""
    return sql.bucket(period, to_date_grain(window, grain))


def suffix(window: WindowSpec) -> str:
    """The column suffix of a part under a calendar window (`__rolling_3mo`, `__to_month`)."""
    if window.months is not None:
        return f"__rolling_{window.months}mo"
    if window.to_date is not None:
        return f"__to_{window.to_date}"
    raise InternalError("not a calendar window")


def reach(window: WindowSpec | None) -> int:
    """How far back, in seconds at most, a rolling window reaches (months: 31 days each)."""
    if window is None:
        return 0
    return window.seconds or (window.months or 0) * MONTH_BOUND
