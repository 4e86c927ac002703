"""Query ranges are wall-clock times in the project's zone: `today` is today's date there
(docs/language.md, "Query ranges" and "Time zones"). Kiritimati (UTC+14) and Pago Pago
(UTC-11) are never both on UTC's date, so at any moment one of them proves the zone is
used; the expected dates come from the standard library's own clock in each zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from metricspec import ir
from metricspec.cli.common import parse_time


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"])
def test_today_is_today_in_the_project_zone(zone: str) -> None:
    calendar = ir.Calendar(span=ir.Span.unknown(), timezone=zone)
    before = dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()
    since = parse_time("today", "--since", calendar)
    until = parse_time("today", "--until", calendar)
    after = dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()
    assert since is not None and until is not None
    assert since.date() in (before, after) and since.time() == dt.time()
    assert until - since == dt.timedelta(days=1)


def test_a_date_is_the_zone_s_midnight_whatever_the_zone() -> None:
    calendar = ir.Calendar(span=ir.Span.unknown(), timezone="Pacific/Kiritimati")
    assert parse_time("2026-03-29", "--since", calendar) == dt.datetime(2026, 3, 29)
    assert parse_time(None, "--since", calendar) is None


def test_the_zones_disagree_with_utc_somewhere_now() -> None:
    """The premise of the first test: one of the two zones is on another date than UTC."""
    today = dt.datetime.now(dt.UTC).date()
    dates = {dt.datetime.now(zoneinfo.ZoneInfo(z)).date()
             for z in ("Pacific/Kiritimati", "Pacific/Pago_Pago")}
    assert dates != {today}
