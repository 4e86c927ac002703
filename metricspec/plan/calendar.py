"""The calendar's periods, in Python: where weeks and fiscal years start, the period an
instant falls in, how far back a calendar window or a to-date metric reads, fiscal labels.

The SQL side cuts the same periods (`emit.calendar_sql`); these functions compute the bounds
a plan knows before the query (its range's first period, the instant its scans read from).

- A week starts on the calendar's `week_start` (default Monday, ISO).
- A fiscal year starts on the first day of month `fiscal_year_start` (default January) and
  is named by the calendar year it ENDS in: with April, FY2027 is 1 April 2026 – 31 March
  2027; its quarters are Q1 (April–June) to Q4 (January–March).
- Adding N months keeps the day of the month, or takes the month's last day when it has
  fewer days (31 January + 1 month is 28 or 29 February), as every supported warehouse does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from metricspec import ir
from metricspec.plan.lower import InternalError, PlanError, WindowSpec

if TYPE_CHECKING:
    from metricspec.plan.metric_query import Grain

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
#: Calendar durations of rolling windows, in months.
WINDOW_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def with_calendar(grain: Grain, calendar: ir.Calendar) -> Grain:
    """`grain` with the calendar's week start and fiscal year start (used by weeks and
    fiscal grains, and by the to-date periods of a query at this grain)."""
    week = WEEKDAYS.index(calendar.week_start) if calendar.week_start in WEEKDAYS else 0
    fiscal = (MONTHS.index(calendar.fiscal_year_start) + 1
              if calendar.fiscal_year_start in MONTHS else 1)
    return replace(grain, week_start=week, fiscal_start=fiscal)


def add_months(at: dt.datetime, months: int) -> dt.datetime:
    """`at` moved by whole calendar months, the day kept or cut to the month's last.

    >>> add_months(dt.datetime(2026, 1, 31, 8), 1), add_months(dt.datetime(2026, 4, 1), -3)
    (datetime.datetime(2026, 2, 28, 8, 0), datetime.datetime(2026, 1, 1, 0, 0))
    """
    index = at.year * 12 + at.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    last = (following - dt.timedelta(days=1)).day
    return at.replace(year=year, month=month, day=min(at.day, last))


def floor(at: dt.datetime, grain: Grain) -> dt.datetime:
    """The first instant of the `grain` period that `at` falls in.

    >>> from metricspec.plan.metric_query import Grain
    >>> floor(dt.datetime(2026, 3, 4, 9), Grain("week", week_start=6))
    datetime.datetime(2026, 3, 1, 0, 0)
    >>> floor(dt.datetime(2026, 3, 31, 23), Grain("fiscal_year", fiscal_start=4))
    datetime.datetime(2025, 4, 1, 0, 0)
    """
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain.unit == "none":
        raise InternalError("a query without a grain has no periods to floor to")
    if grain.unit == "week":
        return day - dt.timedelta(days=(day.weekday() - grain.week_start) % 7)
    months = grain.months
    if months is not None:
        shift = (grain.fiscal_start - 1) % months if grain.unit.startswith("fiscal_") else 0
        index = at.year * 12 + at.month - 1
        index -= (index - shift) % months
        return dt.datetime(index // 12, index % 12 + 1, 1)
    step = grain.seconds or 86400
    into = (at - day).total_seconds()
    return day + dt.timedelta(seconds=into - into % step)


def period_end(start: dt.datetime, grain: Grain) -> dt.datetime:
    """The first instant after the period that starts at `start`."""
    if grain.months is not None:
        return add_months(start, grain.months)
    if grain.seconds is None:
        raise InternalError(f"a {grain} period has no end")
    return start + dt.timedelta(seconds=grain.seconds)


def fiscal_label(period: dt.datetime, grain: Grain) -> str:
    """How a fiscal period is named: by the calendar year its fiscal year ends in.

    >>> from metricspec.plan.metric_query import Grain
    >>> fiscal_label(dt.datetime(2026, 4, 1), Grain("fiscal_year", fiscal_start=4))
    'FY2027'
    >>> fiscal_label(dt.datetime(2027, 1, 1), Grain("fiscal_quarter", fiscal_start=4))
    'FY2027 Q4'
    """
    offset = (period.month - grain.fiscal_start) % 12
    year = add_months(period, 11 - offset).year
    if grain.unit == "fiscal_year":
        return f"FY{year}"
    return f"FY{year} Q{offset // 3 + 1}"


def to_date_grain(window: WindowSpec, grain: Grain) -> Grain:
    """The period a to-date metric restarts at, in the query grain's calendar."""
    from metricspec.plan.metric_query import Grain as GrainType

    if window.to_date is None:
        raise InternalError("not a to-date window")
    return replace(GrainType(window.to_date),  # type: ignore[arg-type]
                   week_start=grain.week_start, fiscal_start=grain.fiscal_start)


def _offset(grain: Grain) -> int:
    """Where a month-based grain's periods start, in months after January (mod its length)."""
    months = grain.months or 1
    return (grain.fiscal_start - 1) % months if grain.unit.startswith("fiscal_") else 0


def nests(inner: Grain, outer: Grain) -> bool:
    """Whether every `inner` period lies inside one `outer` period.

    >>> from metricspec.plan.metric_query import Grain
    >>> nests(Grain("day"), Grain("month")), nests(Grain("week"), Grain("month"))
    (True, False)
    >>> nests(Grain("month"), Grain("fiscal_year", fiscal_start=4))
    True
    >>> nests(Grain("quarter"), Grain("fiscal_year", fiscal_start=5))
    False
    """
    if inner.unit == "week":
        return outer.unit == "week" and outer.week_start == inner.week_start
    if inner.months is None:  # minutes, hours and days tile every calendar period
        return inner.seconds is not None and (outer.seconds is None or
                                              outer.seconds % inner.seconds == 0)
    if outer.months is None:
        return False
    return outer.months % inner.months == 0 and _offset(outer) % inner.months == _offset(inner)


def check_calendar_window(name: str, window: WindowSpec, grain: Grain,
                          where: str | None) -> None:
    """A query-time judgment (the grain is the request's): a month window is a whole number
    of the grain's periods; a to-date metric's period holds whole periods of the grain."""
    at = f"{where}: " if where else ""
    if grain.unit == "none" and window is not None:
        raise PlanError(f"{at}`{name}` is a rolling, cumulative or to-date metric: it has no "
                        "value without periods; pick a grain such as `day` (error[MS461])")
    if window.months is not None:
        fits = grain.unit == "day" or (grain.months is not None
                                       and window.months % grain.months == 0)
        if not fits:
            unit = "month" if window.months == 1 else f"{window.months} months"
            raise PlanError(f"{at}`{name}` rolls over {unit}, which is not a whole number of "
                            f"{grain} periods; use a day, month or quarter grain that tiles it "
                            "(error[MS449])")
    if window.to_date is not None:
        period = to_date_grain(window, grain)
        if not nests(grain, period):
            raise PlanError(f"{at}`{name}` accumulates to the {period.unit}, which a {grain} "
                            f"period does not fit inside; use a finer grain such as `day` "
                            "(error[MS460])")


def read_start(start: dt.datetime, grain: Grain, windows: list[WindowSpec],
               lookback_seconds: int) -> dt.datetime:
    """The first instant the query's scans read for a range starting at `start`: trailing
    windows reach back from its first period, to-date metrics to the start of the period
    that holds it."""
    earliest = start - dt.timedelta(seconds=lookback_seconds)
    first = floor(start, grain)
    for window in windows:
        if window.months is not None:
            earliest = min(earliest, add_months(period_end(first, grain), -window.months))
        if window.to_date is not None:
            earliest = min(earliest, floor(first, to_date_grain(window, grain)))
    return earliest


def label_fiscal_rows(rows: list[dict[str, Any]], grain: Grain) -> list[dict[str, Any]]:
    """Rows of a fiscal-grain query with a `fiscal_period` label (`FY2027 Q1`) after their
    `period` (its first instant); rows of other grains unchanged."""
    if not grain.unit.startswith("fiscal_"):
        return rows
    labelled = []
    for row in rows:
        out: dict[str, Any] = {}
        for key, value in row.items():
            out[key] = value
            if key == "period" and isinstance(value, dt.datetime):
                out["fiscal_period"] = fiscal_label(value.replace(tzinfo=None), grain)
        labelled.append(out)
    return labelled
