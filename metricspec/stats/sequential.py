"""Always-valid inference: asymptotic confidence sequences (Waudby-Smith et al., 2021).

With n the total sample size of the two compared arms and s² = n·se² (se the fixed-horizon
standard error of the estimate), eq. 9 of Waudby-Smith et al. gives the two-sided
(1 − α) confidence sequence

    estimate ± sqrt(s²) · sqrt( 2(nρ² + 1) / (n²ρ²) · log( sqrt(nρ² + 1) / α ) ),

valid simultaneously over all n, so results may be looked at any number of times. ρ is
tuned so the sequence is tightest at n = N*: ρ² = (−2 log α + log(−2 log α + 1)) / N*.
The matching always-valid p-value is the smallest α whose sequence excludes zero:
p = min(1, sqrt(nρ² + 1) · exp(−ρ² n z² / (2(nρ² + 1)))) with z = estimate/se.

ρ is fixed from the nominal α; corrected intervals reuse it with α/m (any fixed ρ > 0 keeps
the guarantee), so "the α' sequence excludes 0" ⇔ "p < α'". These match gbstats
``SequentialTwoSidedTTest`` (reference section S).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["always_valid_p", "cs_halfwidth", "cs_one_sided_halfwidth", "rho"]

Array = npt.NDArray[np.float64]


def rho(alpha: float, tuning: float, *, two_sided: bool = True) -> float:
    """Return the mixture parameter ρ tuned for total sample size ``tuning`` (N*).

    >>> round(rho(0.05, 5000), 10)
    0.0398400668
    """
    a = alpha if two_sided else 2.0 * alpha
    return float(np.sqrt((-2.0 * np.log(a) + np.log(-2.0 * np.log(a) + 1.0)) / tuning))


def cs_halfwidth(se: Array, n: Array, alpha: Array | float, r: float) -> Array:
    """Return the two-sided confidence-sequence half-width at total sample size ``n``."""
    nr2 = n * r * r
    with np.errstate(divide="ignore", invalid="ignore"):
        width2 = 2.0 * (nr2 + 1.0) / (nr2 * n) * np.log(np.sqrt(nr2 + 1.0) / alpha)
    return np.asarray(se * np.sqrt(n) * np.sqrt(width2), dtype=float)


def cs_one_sided_halfwidth(se: Array, n: Array, alpha: Array | float, r: float) -> Array:
    """Return the one-sided confidence-sequence half-width (gbstats one-sided form)."""
    nr2 = n * r * r
    with np.errstate(divide="ignore", invalid="ignore"):
        width2 = 2.0 * (nr2 + 1.0) / (nr2 * n) * np.log(1.0 + np.sqrt(nr2 + 1.0) / (2.0 * alpha))
    return np.asarray(se * np.sqrt(n) * np.sqrt(width2), dtype=float)


def always_valid_p(estimate: Array, se: Array, n: Array, r: float) -> Array:
    """Return the always-valid two-sided p-value of the sequence above."""
    nr2p1 = n * r * r + 1.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z2 = (estimate / se) ** 2
        log_p = 0.5 * np.log(nr2p1) - r * r * n * z2 / (2.0 * nr2p1)
    return np.asarray(np.minimum(1.0, np.exp(np.minimum(log_p, 0.0))), dtype=float)
