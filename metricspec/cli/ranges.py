"""Query ranges as people say them: `--since -7d`, `--since 'last month'`, `--until today`.

The exact semantics (docs/language.md, "Query ranges"):

- An ISO date or time (`2026-11-01`, `2026-11-01T08:00`) is that instant.
- `now` is the current minute.
- An offset `-N<unit>` (or `+N<unit>`) with a unit `m` (minutes) or `h` (hours) counts from
  now, truncated to the minute; with `d`, `w`, `mo` (months), `q` (quarters) or `y` (years)
  it counts from the start of today, in calendar units (python-dateutil's `relativedelta`:
  one month before 31 March is 28 or 29 February).
- A period — `today`, `yesterday`, `this` or `last` followed by `week`, `month`, `quarter`
  or `year` — is a range [start, end): `--since` takes its start and `--until` its end, so
  `--since 'last month' --until 'last month'` is exactly last month. Weeks start on the
  calendar's `week_start` (ISO Monday by default); quarters start in January, April, July
  and October.

`--until` is exclusive, as everywhere in metricspec. Every instant is a wall-clock time in
the project's zone (`calendar { timezone … }`, default UTC): "today" is today's date there,
and the plan moves the bounds to the time column's own zone (plan/zones.py).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from dateutil.relativedelta import relativedelta

Side = Literal["since", "until"]
_OFFSET = re.compile(r"^([+-])\s*(\d+)\s*(m|min|h|d|w|mo|q|y)$")
_PERIOD = re.compile(r"^(this|last)\s+(week|month|quarter|year)$")
UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks",
         "mo": "months", "q": "quarters", "y": "years"}


class RangeError(ValueError):
    """Text that is no date, time, offset or period."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def resolve(text: str, side: Side, now: dt.datetime | None = None,
            week_start: int = 0) -> dt.datetime:
    """The instant `text` denotes as the start (`since`) or end (`until`) of a range.

    >>> now = dt.datetime(2026, 3, 31, 14, 37, 12)
    >>> [str(resolve(t, "since", now)) for t in ("-7d", "-2h", "-1mo", "last month", "today")]
    ['2026-03-24 00:00:00', '2026-03-31 12:37:00', '2026-02-28 00:00:00', \
'2026-02-01 00:00:00', '2026-03-31 00:00:00']
    >>> [str(resolve(t, "until", now)) for t in ("last month", "today", "this quarter")]
    ['2026-03-01 00:00:00', '2026-04-01 00:00:00', '2026-04-01 00:00:00']
    >>> str(resolve("this week", "since", now)), str(resolve("this week", "since", now, 6))
    ('2026-03-30 00:00:00', '2026-03-29 00:00:00')
    """
    now = (now or utc_now()).replace(second=0, microsecond=0)
    today = now.replace(hour=0, minute=0)
    word = " ".join(text.strip().lower().split())
    if word == "now":
        return now
    if word in ("today", "yesterday"):
        start = today - dt.timedelta(days=word == "yesterday")
        return start if side == "since" else start + dt.timedelta(days=1)
    period = _PERIOD.match(word)
    if period:
        start, end = _period(today, period.group(2), last=period.group(1) == "last",
                             week_start=week_start)
        return start if side == "since" else end
    offset = _OFFSET.match(word)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        count, unit = int(offset.group(2)), UNITS[offset.group(3)]
        if unit == "quarters":
            count, unit = 3 * count, "months"
        base = now if unit in ("minutes", "hours") else today
        moved: dt.datetime = base + relativedelta(**{unit: sign * count})
        return moved
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise RangeError(
            f"`{text}` is not a date, time, offset or period: use YYYY-MM-DD[THH:MM], "
            "an offset such as -7d, -12h, -3mo, or today, yesterday, this/last week, month, "
            "quarter, year") from None


def _period(today: dt.datetime, unit: str, last: bool,
            week_start: int = 0) -> tuple[dt.datetime, Any]:
    """This (or the last) calendar week (from weekday `week_start`, 0 Monday), month,
    quarter or year: [start, end)."""
    if unit == "week":
        start = today - dt.timedelta(days=(today.weekday() - week_start) % 7)
        step = relativedelta(weeks=1)
    elif unit == "month":
        start, step = today.replace(day=1), relativedelta(months=1)
    elif unit == "quarter":
        start = today.replace(day=1, month=3 * ((today.month - 1) // 3) + 1)
        step = relativedelta(months=3)
    else:
        start, step = today.replace(day=1, month=1), relativedelta(years=1)
    if last:
        start -= step
    return start, start + step
