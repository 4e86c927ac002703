"""Plausibility of sufficient statistics: what no real data set can produce.

Sums over units obey inequalities whatever the data: a centred sum of squares
Σx² − (Σx)²/n is never negative (it is (n − 1) times a variance), every centred cross
product is bounded by Cauchy–Schwarz, |Σxy − ΣxΣy/n| ≤ sqrt((Σx² − (Σx)²/n)(Σy² − (Σy)²/n))
(a correlation within ±1), n = 0 has only zero sums, and n = 1 has no spread. Statistics that
break one of these are corrupt (a wrong column, a mixed-up join, a bad export); analysing them
gives nonsense such as "a significant loss with p = 0", so they are refused.

Floating-point sums carry rounding error, so a breach within a relative tolerance
(`REL_TOL` of the sums of squares involved) is rounding and is accepted — the variance is
then clamped to 0 (`Moments.covariance`); anything beyond it is an error.

Quantile rows have their own rules (`quantile_problem`): q_lower ≤ q ≤ q_upper, at least one
event per unit, no more events at or below q than events, and n* on the documented grid.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = ["REL_TOL", "Problem", "expected_n_star", "moments_problem", "quantile_problem"]

REL_TOL = 1e-9
"""Relative tolerance for rounding error in sums of squares and products."""

Problem = tuple[tuple[str, ...], str]
"""The components at fault (one: a sum; two: a product) and a message."""


def _sq(products: Mapping[tuple[str, str], float], a: str) -> float | None:
    return products.get((a, a))


def moments_problem(
    n: int,
    sums: Mapping[str, float],
    products: Mapping[tuple[str, str], float],
    only: Iterable[tuple[str, str]] | None = None,
) -> Problem | None:
    """Return the first impossible sum or product, or None if the statistics are possible.

    Args:
        n: Number of units.
        sums: Σ v_k per component.
        products: Σ v_j·v_k per sorted component pair.
        only: Check only these products (e.g. a cross row's, with the squares and sums of
            its two metrics supplied for reference); default all of them.
    """
    keys = list(products) if only is None else list(only)
    if n == 0:
        for name, s in sums.items():
            if s != 0.0 and only is None:
                return (name,), f"n = 0 but Σ{name} = {s:.6g} (a sum over no units is 0)"
        for key in keys:
            if products[key] != 0.0:
                return key, f"n = 0 but Σ{key[0]}·{key[1]} = {products[key]:.6g} (must be 0)"
        return None
    for a, b in keys:
        if a != b or a not in sums:
            continue
        p, s = products[(a, b)], sums[a]
        centred = p - s * s / n
        if centred < -REL_TOL * p:
            return (a, a), (
                f"Σ{a}² = {p:.10g} is below (Σ{a})²/n = {s * s / n:.10g}: "
                "a negative variance, impossible for real data"
            )
        if n == 1 and centred > REL_TOL * p:
            return (a, a), f"with n = 1, Σ{a}² must equal (Σ{a})² = {s * s:.10g}, got {p:.10g}"
    for a, b in keys:
        if a == b or a not in sums or b not in sums:
            continue
        pa, pb = _sq(products, a), _sq(products, b)
        if pa is None or pb is None:
            continue
        saa = max(pa - sums[a] ** 2 / n, 0.0)
        sbb = max(pb - sums[b] ** 2 / n, 0.0)
        sab = products[(a, b)] - sums[a] * sums[b] / n
        bound = math.sqrt(saa * sbb)
        if abs(sab) > bound + REL_TOL * math.sqrt(abs(pa * pb)):
            corr = "beyond ±1" if bound == 0.0 else f"{sab / bound:.4g}"
            return (a, b), (
                f"Σ{a}·{b} = {products[(a, b)]:.10g} gives a covariance larger than the two "
                f"standard deviations allow (correlation {corr}; Cauchy–Schwarz bounds it by 1)"
            )
    return None


def expected_n_star(events: float) -> float:
    """Return n* = 100·2^k, the largest such number not above ``events`` (k may be negative).

    The same formula as the emitted SQL (with its 1e-9 guard against log rounding).

    >>> expected_n_star(500), expected_n_star(10)
    (400.0, 6.25)
    """
    k = math.floor(math.log(max(events, 1.0) / 100.0) / math.log(2.0) + 1e-9)
    return 100.0 * 2.0**k


def quantile_problem(
    n: int,
    q: float,
    lower: float,
    upper: float,
    n_star: float,
    events: float,
    below: float | None,
) -> tuple[str, str] | None:
    """Return (column, message) for the first inconsistent quantile field, or None."""
    tol = REL_TOL * max(abs(q), abs(lower), abs(upper))
    if lower > upper + tol:
        return "q_lower", f"q_lower = {lower:.10g} is above q_upper = {upper:.10g}"
    if not lower - tol <= q <= upper + tol:
        return "q", f"q = {q:.10g} is outside [q_lower, q_upper] = [{lower:.10g}, {upper:.10g}]"
    if events < n:
        return "sum_y", (
            f"sum_y (events) = {events:.10g} is below n = {n} units "
            "(a unit on a quantile row has at least one event)"
        )
    if below is not None and not 0.0 <= below <= events:
        return "sum_x", (
            f"sum_x (events at or below q) = {below:.10g} is not between 0 and the "
            f"{events:.10g} events"
        )
    expected = expected_n_star(events)
    if abs(n_star - expected) > REL_TOL * expected:
        return "q_n_star", (
            f"q_n_star = {n_star:.10g} does not match {events:.10g} events: n* is 100·2^k, "
            f"the largest such number not above the events ({expected:.10g})"
        )
    return None
