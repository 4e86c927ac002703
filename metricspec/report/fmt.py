"""Number formatting for reports, driven by each metric's declared format and unit."""

from __future__ import annotations

import math


def value(x: float | None, fmt: str | None, unit: str | None = None) -> str:
    """A metric value as people read it.

    >>> value(0.7951, "percent"), value(5442.19, "duration", "ms"), value(0.00678, "currency")
    ('79.51%', '5,442 ms', '$0.00678')
    >>> value(None, "number")
    '–'
    """
    if x is None or not math.isfinite(x):
        return "–"
    if fmt == "percent":
        return f"{x * 100:.2f}%"
    if fmt == "currency":
        return f"${_sig(x, 3)}"
    if fmt == "integer":
        return f"{x:,.0f}"
    if fmt == "duration" or unit == "ms":
        return f"{x:,.0f} {unit or 'ms'}" if abs(x) >= 100 else f"{_sig(x, 3)} {unit or 'ms'}"
    text = _sig(x, 4)
    return f"{text} {unit}" if unit and unit not in ("1", "point") else text


def delta(x: float | None, fmt: str | None, unit: str | None = None) -> str:
    """An absolute difference: percentage points for percent metrics, signed."""
    if x is None or not math.isfinite(x):
        return "–"
    sign = "+" if x >= 0 else "−"
    if fmt == "percent":
        return f"{sign}{abs(x) * 100:.2f}pp"
    magnitude = value(abs(x), fmt, unit)
    return f"{sign}{magnitude}"


def lift(x: float | None) -> str:
    """A relative change, signed, in percent.

    >>> lift(0.0686), lift(-0.142)
    ('+6.86%', '−14.20%')
    """
    if x is None or not math.isfinite(x):
        return "–"
    return f"{'+' if x >= 0 else '−'}{abs(x) * 100:.2f}%"


def p_equals(p: float | None) -> str:
    """`p = 0.112` or `p < 0.0001`, for prose.

    >>> p_equals(0.112), p_equals(3e-9)
    ('p = 0.112', 'p < 0.0001')
    """
    text = p_value(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def interval(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return "–"
    return f"[{lift(lo)}, {lift(hi)}]"


def p_value(p: float | None) -> str:
    """Three decimals, four below 0.001 (never a bare 0.000), `< 0.0001` below that.

    >>> p_value(3.1e-08), p_value(0.00031), p_value(0.0462), p_value(1.0)
    ('< 0.0001', '0.0003', '0.046', '1.000')
    """
    if p is None or not math.isfinite(p):
        return "–"
    if p < 1e-4:
        return "< 0.0001"
    return f"{p:.4f}" if p < 1e-3 else f"{p:.3f}"


def count(n: float | None) -> str:
    return "–" if n is None else f"{n:,.0f}"


def _sig(x: float, digits: int) -> str:
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{x:,.{decimals}f}"
