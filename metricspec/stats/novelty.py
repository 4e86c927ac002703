"""Effects over time from per-day sums: the effect by day since first exposure with a
trend test (novelty and primacy), and the cumulative lift by calendar day with its interval.

Each day's comparison uses the same conventions as the main analysis (docs/statistics.md):
a mean or a ratio Σx/Σy per unit by the delta method with Welch's t, a proportion with the
binomial variance and z; the lift is Δ/|control| with its delta-method interval.

**Trend test.** The daily effects Δ_d (d = 0, 1, … days since first exposure) are regressed
on d by weighted least squares with weights w_d = 1/SE_d²: slope b = Σw(d − d̄)(Δ − Δ̄) /
Σw(d − d̄)², SE_b = 1/sqrt(Σw(d − d̄)²) (d̄, Δ̄ weighted means), two-sided z test. The days
are treated as independent, which they are not (the same units appear on several days):
a unit-level effect shared by all its days cancels in the slope, so for that common part
the test is conservative; the units observed on late days are those exposed early, so a
trend can also mean early adopters respond differently. A significant slope against the
sign of the overall effect is flagged as *novelty* (the effect fades), with it as
*primacy* (it grows).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import special

__all__ = [
    "CumulativePoint",
    "DayEffect",
    "DaySums",
    "Trend",
    "cumulative_point",
    "day_effect",
    "trend",
]


@dataclass(frozen=True, slots=True)
class DaySums:
    """One arm on one day: n units, Σx, Σx² (and Σy, Σy², Σxy for a ratio)."""

    n: int
    sum_x: float
    sum_x2: float
    sum_y: float | None = None
    sum_y2: float | None = None
    sum_xy: float | None = None


@dataclass(frozen=True, slots=True)
class DayEffect:
    day: int
    n_control: int
    n_treatment: int
    control: float | None = None
    treatment: float | None = None
    effect: float | None = None
    se: float | None = None
    df: float | None = None
    lift: float | None = None
    lift_se: float | None = None


def _arm(s: DaySums, kind: str) -> tuple[float, float] | None:
    """(value, per-unit variance of its linearisation), or None with too little data."""
    n = s.n
    if n < 2:
        return None
    if kind == "ratio":
        if s.sum_y is None or s.sum_y2 is None or s.sum_xy is None or s.sum_y == 0:
            return None
        r = s.sum_x / s.sum_y
        y_bar = s.sum_y / n
        var_x = (s.sum_x2 - s.sum_x ** 2 / n) / (n - 1)
        var_y = (s.sum_y2 - s.sum_y ** 2 / n) / (n - 1)
        cov = (s.sum_xy - s.sum_x * s.sum_y / n) / (n - 1)
        return r, max(var_x - 2 * r * cov + r * r * var_y, 0.0) / (y_bar * y_bar)
    mean = s.sum_x / n
    if kind == "proportion":
        return mean, mean * (1 - mean)
    return mean, max((s.sum_x2 - s.sum_x ** 2 / n) / (n - 1), 0.0)


def day_effect(day: int, control: DaySums, treatment: DaySums, kind: str) -> DayEffect:
    """Treatment − control on one day (and the lift), or the counts alone without data."""
    c, t = _arm(control, kind), _arm(treatment, kind)
    if c is None or t is None:
        return DayEffect(day, control.n, treatment.n)
    (fc, vc), (ft, vt) = c, t
    ua, ub = vc / control.n, vt / treatment.n
    se = math.sqrt(ua + ub)
    if se == 0.0:
        return DayEffect(day, control.n, treatment.n, fc, ft)
    if kind == "proportion":
        df = math.inf
    else:
        den = ua * ua / (control.n - 1) + ub * ub / (treatment.n - 1)
        df = (ua + ub) ** 2 / den if den > 0 else math.inf
    lift = lift_se = None
    if fc != 0.0:
        lift = (ft - fc) / abs(fc)
        lift_se = math.sqrt(vt / (treatment.n * fc * fc) + vc * ft * ft / (control.n * fc ** 4))
    return DayEffect(day, control.n, treatment.n, fc, ft, ft - fc, se, df, lift, lift_se)


@dataclass(frozen=True, slots=True)
class Trend:
    """The weighted slope of the daily effect on days since exposure."""

    slope: float | None
    se: float | None
    p_value: float | None
    days: int
    flagged: bool
    pattern: str  # "novelty", "primacy" or "" (not flagged)
    reason: str = ""


def trend(effects: Sequence[DayEffect], alpha: float, overall: float | None) -> Trend:
    """WLS slope of Δ_d on d with weights 1/SE_d², z test; flagged when p < alpha."""
    usable = [e for e in effects if e.effect is not None and e.se]
    if len(usable) < 3:
        return Trend(None, None, None, len(usable), False, "",
                     "insufficient data: fewer than 3 days with an effect")
    w = [1.0 / (e.se * e.se) for e in usable if e.se]
    d = [float(e.day) for e in usable]
    y = [float(e.effect) for e in usable if e.effect is not None]
    total = sum(w)
    d_bar = sum(wi * di for wi, di in zip(w, d, strict=True)) / total
    y_bar = sum(wi * yi for wi, yi in zip(w, y, strict=True)) / total
    sdd = sum(wi * (di - d_bar) ** 2 for wi, di in zip(w, d, strict=True))
    sdy = sum(wi * (di - d_bar) * (yi - y_bar) for wi, di, yi in zip(w, d, y, strict=True))
    slope, se = sdy / sdd, 1.0 / math.sqrt(sdd)
    p = float(2 * special.ndtr(-abs(slope) / se))
    flagged = p < alpha
    pattern = ""
    if flagged:
        sign = overall if overall else y_bar
        pattern = "novelty" if slope * sign < 0 else "primacy"
    return Trend(slope, se, p, len(usable), flagged, pattern)


@dataclass(frozen=True, slots=True)
class CumulativePoint:
    """The cumulative lift on one calendar day of the window (from its first day)."""

    day: int
    n: dict[str, int]
    lift: float | None
    ci_low: float | None
    ci_high: float | None
    effect: float | None = None


def cumulative_point(day: int, control: str, treatment: str, sums: dict[str, DaySums],
                     kind: str, alpha: float) -> CumulativePoint:
    """The lift with its (1 − alpha) delta-method interval on the data up to `day`."""
    n = {v: s.n for v, s in sums.items()}
    if control not in sums or treatment not in sums:
        return CumulativePoint(day, n, None, None, None)
    e = day_effect(day, sums[control], sums[treatment], kind)
    if e.lift is None or e.lift_se is None or e.df is None:
        return CumulativePoint(day, n, None, None, None, e.effect)
    q = (float(special.ndtri(1 - alpha / 2)) if math.isinf(e.df)
         else float(special.stdtrit(e.df, 1 - alpha / 2)))
    return CumulativePoint(day, n, e.lift, e.lift - q * e.lift_se, e.lift + q * e.lift_se,
                           e.effect)
