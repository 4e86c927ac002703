"""Effects over time from per-day sums: the effect by day since first exposure with a
trend test (novelty and primacy), and the cumulative lift by calendar day with its interval.

Each day's comparison uses the same conventions as the main analysis (docs/statistics.md):
a mean or a ratio Σx/Σy per unit by the delta method with Welch's t, a proportion with the
binomial variance and z; the lift is Δ/|control| with its delta-method interval.

**Trend test.** On a balanced cohort — the units first exposed early enough to be seen on
each of the first H days since exposure (H = 7, or half a shorter window) — each arm's slope
of the daily metric on the day index, b = Σ_d c_d·R_d with c_d = (d − d̄)/Σ(d − d̄)², and
its delta-method variance Var(u)/n from each unit's contribution u_i = Σ_d c_d(x_id −
R_d·y_id)/ȳ_d (y ≡ 1 for a mean). A unit counts once however many days it shares, so the
days' correlation is accounted for; the difference of the arms' slopes is tested with
Welch's t (z for proportions). For a mean this is exactly Welch's t on the units' own
slopes. (A weighted regression of the daily effects on the day, treating days as
independent, rejected a true null 10% of the time at α = 5% in simulation: the days share
units.) A significant slope against the sign of the overall effect is flagged as
*novelty* (the effect fades), with it as *primacy* (it grows).
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
    "cohort_trend",
    "cumulative_point",
    "day_effect",
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


def cohort_trend(days: Sequence[tuple[DaySums, DaySums]], units: tuple[DaySums, DaySums],
                 kind: str, alpha: float, overall: float | None) -> Trend:
    """The slope difference (treatment − control) over a balanced cohort.

    `days[d]`: (control, treatment) cohort sums on day d since exposure (n, Σx, Σy);
    `units`: (control, treatment) with n, Σu, Σu² of the units' contributions."""
    horizon = len(days)
    if horizon < 3:
        return Trend(None, None, None, horizon, False, "",
                     "insufficient data: fewer than 3 days since exposure in the window")
    centre = (horizon - 1) / 2
    spread = sum((d - centre) ** 2 for d in range(horizon))
    slopes = []
    for arm in (0, 1):
        total = 0.0
        for d, sums in enumerate(days):
            s = sums[arm]
            den = s.sum_y if kind == "ratio" else float(s.n)
            if not den:
                return Trend(None, None, None, horizon, False, "",
                             f"insufficient data: no denominator on day {d} of the cohort")
            total += (d - centre) / spread * s.sum_x / den
        slopes.append(total)
    parts = []
    for u in units:
        if u.n < 2:
            return Trend(None, None, None, horizon, False, "",
                         "insufficient data: fewer than 2 units in an arm of the cohort")
        parts.append((max(u.sum_x2 - u.sum_x ** 2 / u.n, 0.0) / (u.n - 1) / u.n, u.n))
    (vc, nc), (vt, nt) = parts
    se = math.sqrt(vc + vt)
    if se == 0.0:
        return Trend(None, None, None, horizon, False, "", "insufficient data: no variance")
    slope = slopes[1] - slopes[0]
    den = vc * vc / (nc - 1) + vt * vt / (nt - 1)
    df = math.inf if kind == "proportion" or den == 0 else (vc + vt) ** 2 / den
    stat = abs(slope) / se
    p = float(2 * special.ndtr(-stat)) if math.isinf(df) else float(
        2 * special.stdtr(df, -stat))
    flagged = p < alpha
    pattern = ""
    if flagged:
        pattern = "novelty" if slope * (overall or 0.0) < 0 else "primacy"
    return Trend(slope, se, p, horizon, flagged, pattern)


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
