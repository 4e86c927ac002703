"""The time column in the project's zone (docs/language.md, "Time zones").

Periods are cut on the wall-clock time of the project zone: a source's time column (UTC, or
its own zone's wall-clock time) is converted in SQL before it is bucketed, by the backend's
`[spellings] local_time` / `utc_time`. Ranges filter the raw column with bounds moved to its
own terms in Python (`plan.zones.column_time`), so the filter stays sargable. With no zone
anywhere (or UTC), both return what they were given: SQL as before zones.
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from metricspec import ir
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.plan.zones import column_time, zone_of


def local_time(zone: str | None, source: ir.Source, value: exp.Expr,
               sql: SqlBuilder) -> exp.Expr:
    """`value`, a time of `source`'s time column, as a wall-clock time in the project
    `zone` (None: UTC)."""
    own = zone_of(source.timezone)
    if own == zone:  # the column already holds the project's wall-clock time
        return value
    if own is not None:
        value = sql.utc_time(value, own)
    return sql.local_time(value, zone) if zone is not None else value


def utc_time(source: ir.Source, value: exp.Expr, sql: SqlBuilder) -> exp.Expr:
    """`value`, a time of `source`'s time column, as a UTC event time (to compare times of
    two sources, as a conversion does)."""
    own = zone_of(source.timezone)
    return sql.utc_time(value, own) if own is not None else value


def bound(zone: str | None, source: ir.Source, local: dt.datetime,
          sql: SqlBuilder) -> exp.Expr:
    """A range bound, a wall-clock time in the project `zone`, as a literal in the terms of
    `source`'s raw time column."""
    return sql.ts(column_time(local, zone, source))


def zoned(zone: str | None, source: ir.Source) -> bool:
    """Whether the column and the project's periods differ in zone (bounds must move)."""
    return zone_of(source.timezone) != zone
