"""Compare result rows across engines: counts exactly, other numbers to a relative tolerance."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Sequence
from typing import Any

#: Default relative tolerance for non-integer numbers (sums, means, exact percentiles).
REL = 1e-9


def normalize(value: Any) -> Any:
    """Make values from different drivers comparable.

    Aware datetimes become naive UTC (BigQuery and Spark TIMESTAMP are instants; the others
    return naive wall-clock UTC); integral Decimals become int; other Decimals become float.
    """
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def same(actual: Any, expected: Any, rel: float = REL) -> bool:
    """Return True when two cells agree: integers exactly, other numbers to ``rel``.

    >>> same(285.0, 285), same(285.5, 285), same(0.1 + 0.2, 0.3)
    (True, False, True)
    """
    a, e = normalize(actual), normalize(expected)
    if isinstance(a, bool) or isinstance(e, bool):
        return a is e or (a == e and type(a) is type(e))
    if isinstance(e, int) and isinstance(a, int | float):
        return float(a).is_integer() and int(a) == e  # counts: exact, even if sent as 285.0
    if isinstance(a, int | float) and isinstance(e, int | float):
        if math.isnan(a) or math.isnan(e):
            return math.isnan(a) and math.isnan(e)
        return math.isclose(a, e, rel_tol=rel, abs_tol=0.0)
    return bool(a == e)


def sort_key(row: Sequence[Any]) -> tuple[Any, ...]:
    """Sort rows with NULLs first and mixed types kept apart."""
    return tuple((v is not None, str(type(normalize(v))), normalize(v)) for v in row)


def assert_rows_match(
    actual: Sequence[Sequence[Any]],
    expected: Sequence[Sequence[Any]],
    *,
    rel: float = REL,
    ordered: bool = True,
    skip_columns: Sequence[int] = (),
) -> None:
    """Assert two results are equal cell by cell; see :func:`same` for the tolerance."""
    if not ordered:
        actual, expected = sorted(actual, key=sort_key), sorted(expected, key=sort_key)
    assert len(actual) == len(expected), f"{len(actual)} rows != {len(expected)} expected"
    for i, (row, want) in enumerate(zip(actual, expected, strict=True)):
        assert len(row) == len(want), f"row {i}: {len(row)} columns != {len(want)}"
        for j, (a, e) in enumerate(zip(row, want, strict=True)):
            if j in skip_columns:
                continue
            assert same(a, e, rel), f"row {i} column {j}: {a!r} != {e!r} (expected)\n{row}\n{want}"


def naive_time(value: Any) -> Any:
    """A period as the references key it: aware datetimes as naive UTC, dates as midnight
    (engines return a period as a TIMESTAMP, an instant, or a DATE)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value
