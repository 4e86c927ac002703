"""Time zones in plans: the project's zone (`calendar { timezone … }`) and instants moved
between it, UTC and a source's own zone, in Python (docs/language.md, "Time zones").

Event times are UTC unless a source says `timezone "…"` (its naive time column holds that
zone's wall-clock time). Periods are cut on the project zone's wall-clock time and named by
their local start; a plan's `start` and `end` are wall-clock times in the project zone. The
SQL compares the raw time column with bounds moved here to the column's own terms, so a
range filter stays sargable.

Wall-clock times that do not exist (a spring-forward gap) or exist twice (a fall-back
hour) are read as Python's `fold=0` reads them: the earlier offset.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache

from metricspec import ir

_UTC_NAMES = ("UTC", "Etc/UTC")


def zone_of(name: str | None) -> str | None:
    """A declared zone, or None when it is UTC (the default: SQL as without a zone).

    >>> zone_of("Europe/Berlin"), zone_of("UTC"), zone_of(None)
    ('Europe/Berlin', None, None)
    """
    return None if name is None or name in _UTC_NAMES else name


def project_zone(calendar: ir.Calendar) -> str | None:
    """The zone periods are cut in: the calendar's, None for UTC."""
    return zone_of(calendar.timezone)


@cache
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def to_utc(local: dt.datetime, zone: str | None) -> dt.datetime:
    """The naive UTC instant of a naive wall-clock time in `zone` (None: UTC already).

    >>> str(to_utc(dt.datetime(2026, 3, 29), "Europe/Berlin"))
    '2026-03-28 23:00:00'
    >>> str(to_utc(dt.datetime(2026, 3, 30), "Europe/Berlin"))
    '2026-03-29 22:00:00'
    >>> str(to_utc(dt.datetime(2026, 1, 1), "Asia/Kolkata"))
    '2025-12-31 18:30:00'
    """
    if zone is None or local in (dt.datetime.min, dt.datetime.max):  # open ends stay open
        return local
    aware = local.replace(tzinfo=_zone(zone))
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


def from_utc(utc: dt.datetime, zone: str | None) -> dt.datetime:
    """The naive wall-clock time in `zone` of a naive UTC instant.

    >>> str(from_utc(dt.datetime(2026, 10, 25, 0, 30), "Europe/Berlin"))
    '2026-10-25 02:30:00'
    >>> str(from_utc(dt.datetime(2026, 10, 25, 1, 30), "Europe/Berlin"))
    '2026-10-25 02:30:00'
    """
    if zone is None or utc in (dt.datetime.min, dt.datetime.max):
        return utc
    aware = utc.replace(tzinfo=dt.UTC).astimezone(_zone(zone))
    return aware.replace(tzinfo=None)


def column_time(local: dt.datetime, project: str | None, source: ir.Source) -> dt.datetime:
    """A wall-clock time in the project zone, in the terms of `source`'s time column: UTC,
    or the wall-clock time of the source's own zone."""
    return from_utc(to_utc(local, project), zone_of(source.timezone))


def local_now(zone: str | None) -> dt.datetime:
    """The current wall-clock time in `zone` (naive; UTC when None)."""
    now = dt.datetime.now(dt.UTC)
    return (now.astimezone(_zone(zone)) if zone else now).replace(tzinfo=None)


def zone_label(zone: str | None) -> str:
    """How a range's zone is shown beside it: `(Europe/Berlin)`, or `(UTC)`."""
    return f"({zone or 'UTC'})"
