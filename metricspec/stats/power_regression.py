"""Power for the regression adjustment: the variance the covariates are expected to remove,
measured on history.

Over a historical window (one population, no treatment), the warehouse returns n and the
sums of the monomials of (y, x_1 … x_p) (`metricspec.stats.regression.monomials`). The
share of y's variance the covariates explain is the R² of the OLS of y on (1, x):

    R² = s_xyᵀ S_xx⁻¹ s_xy / s_yy,    S, s centred cross-products over units,

equal to statsmodels' `OLS(y, [1, x]).fit().rsquared`. Adjusted for the covariates, the
effect's variance is σ²(1 − R²) per unit instead of σ², so the sample a plan needs shrinks
to n·(1 − R²). The usual small-sample caveat: the slopes are estimated, which adds a
factor 1 + p / (N − p − 3) for N units in all (the expected variance of ANCOVA's effect
with p normal covariates under randomisation), and R² in the experiment is only as large
as in history.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from metricspec.stats.regression import ArmSums, Y

__all__ = ["Explained", "adjusted_sample", "explained", "slope_inflation"]


@dataclass(frozen=True, slots=True)
class Explained:
    """The share of y's variance the covariates explain over one population.

    Attributes:
        units: Units in the population (n).
        r_squared: R² of y on (1, covariates); None with ``reason``.
        constant: Covariates without variance in the population (they explain nothing).
        reason: Why R² could not be measured.
    """

    units: int
    r_squared: float | None
    constant: tuple[str, ...] = ()
    reason: str = ""


def explained(arm: ArmSums, covariates: Sequence[str]) -> Explained:
    """R² of y on an intercept and ``covariates`` from one population's sums."""
    n = arm.n
    if n < len(covariates) + 2:
        return Explained(n, None, reason=f"insufficient data: {n} unit(s) in history")
    names = (Y, *covariates)
    raw = np.array([[arm.s(a, b) for b in names] for a in names], dtype=float)
    sums = np.array([arm.s(a) for a in names], dtype=float)
    centred = raw - np.outer(sums, sums) / n
    s_yy = float(centred[0, 0])
    constant = tuple(c for i, c in enumerate(covariates, start=1)
                     if not centred[i, i] > 1e-12 * max(abs(raw[i, i]), 1.0))
    if not s_yy > 1e-12 * max(abs(raw[0, 0]), 1.0):
        return Explained(n, None, constant, "the metric has no variance in history")
    s_xx, s_xy = centred[1:, 1:], centred[1:, 0]
    if s_xx.size == 0:
        return Explained(n, 0.0, constant)
    beta = np.linalg.pinv(s_xx, rcond=1e-12, hermitian=True) @ s_xy
    r2 = float(s_xy @ beta) / s_yy
    return Explained(n, min(max(r2, 0.0), 1.0), constant)


def slope_inflation(total_units: float, covariates: int) -> float:
    """1 + p / (N − p − 3): the variance added by estimating p slopes from N units
    (infinite when N ≤ p + 3)."""
    room = total_units - covariates - 3
    return 1.0 + covariates / room if room > 0 else math.inf


def adjusted_sample(exact_per_variant: Mapping[str, float], r_squared: float,
                    covariates: int) -> tuple[dict[str, float], float]:
    """The sample per variant with the adjustment, n·(1 − R²)·(1 + p/(N − p − 3)), N the
    adjusted total; and the overall factor applied to n.

    The inflation depends on the total it inflates: the smallest N with
    N = N₀(1 − R²)(1 + p/(N − p − 3)) is found in closed form (a quadratic in N).

    >>> per, factor = adjusted_sample({"c": 500.0, "t": 500.0}, 0.5, 2)
    >>> round(per["c"], 4), round(factor, 6)
    (251.006, 0.502012)
    """
    base = sum(exact_per_variant.values()) * (1.0 - r_squared)
    if base <= 0.0:
        return {v: 0.0 for v in exact_per_variant}, 0.0
    # N(N − p − 3) = base·(N − 3)  →  N² − (p + 3 + base)N + 3·base = 0, the larger root
    b = covariates + 3.0 + base
    total = (b + math.sqrt(b * b - 12.0 * base)) / 2.0
    factor = total / sum(exact_per_variant.values())
    return {v: n * factor for v, n in exact_per_variant.items()}, factor
