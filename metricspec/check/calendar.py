"""The project's calendar (MS440–MS442): a time zone the IANA database knows, a weekday to
start weeks on, a month to start fiscal years in, and at most one calendar per project."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator

from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, did_you_mean, error

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")


def zone_problem(name: str) -> str | None:
    """Why `name` is not a time zone every backend can use, or None.

    >>> zone_problem("Europe/Berlin") is None, zone_problem("CET+1")
    (True, 'unknown time zone `CET+1`')
    """
    if name in ("UTC", "Etc/UTC"):
        return None
    if name not in _zones():
        return f"unknown time zone `{name}`"
    return None


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = zoneinfo.available_timezones()
    return _ZONES


_ZONES: set[str] | None = None


def rule_calendar(ctx: Context) -> Iterator[Diagnostic]:
    calendars = ctx.project.calendars
    for extra in calendars[1:]:
        yield error("MS442", "a project has one calendar; this is a second one", extra.span,
                    f"merge it into the calendar at {calendars[0].span}")
    for calendar in calendars:
        if calendar.timezone is not None:
            problem = zone_problem(calendar.timezone)
            if problem:
                guess = did_you_mean(calendar.timezone, sorted(_zones()))
                yield error("MS440", problem, calendar.setting_span("timezone"),
                            guess if guess else
                            "use an IANA name such as `Europe/Berlin` or `America/New_York`")
        for key, allowed, example in (("week_start", WEEKDAYS, "sunday"),
                                      ("fiscal_year_start", MONTHS, "april")):
            value = getattr(calendar, key)
            if value is not None and value not in allowed:
                guess = did_you_mean(value, allowed)
                what = "weekday" if key == "week_start" else "month"
                yield error("MS441", f"`{value}` is not a {what}", calendar.setting_span(key),
                            guess if guess else
                            f"write e.g. `{key} {example}`")
