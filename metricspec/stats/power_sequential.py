"""Sample-size inflation of sequential designs over the fixed-horizon plan (`power.py`).

* Confidence sequences (`sequential.py`): at total sample size n the sequence excludes 0
  when |z| ≥ c(n) = sqrt(n·2(nρ² + 1)/(n²ρ²)·log(sqrt(nρ² + 1)/α')), a boundary wider than
  z_{1−α'/2}. Power at the planned end is Φ(δ/SE(n) − c(n)) (the far tail is negligible), so
  the sample giving power 1 − β solves n = n_fixed·((c(n) + z_{1−β})/(z_{1−α'/2} + z_{1−β}))².
  Looks before the end only add power, so this is the sample for power at the final analysis.
* Group-sequential designs (`group_sequential.py`): the maximum sample is the fixed one times
  R = (η/(z_{1−α'/2} + z_{1−β}))², η the drift whose crossing probability over the planned
  looks is 1 − β (`group_sequential.inflation`).
"""

from __future__ import annotations

import math

from scipy import optimize, stats

from metricspec.stats.group_sequential import GroupSequentialDesign, inflation
from metricspec.stats.sequential import rho

__all__ = ["cs_boundary", "cs_inflation", "design_inflation"]


def cs_boundary(n: float, alpha: float, r: float) -> float:
    """Return the |z| the confidence sequence needs at total sample size ``n``."""
    nr2 = n * r * r
    return math.sqrt(
        n * 2.0 * (nr2 + 1.0) / (n * n * r * r) * math.log(math.sqrt(nr2 + 1.0) / alpha)
    )


def cs_inflation(
    n_fixed: float, alpha: float, power: float, *, nominal_alpha: float, tuning: float
) -> float:
    """Return n/n_fixed for the confidence sequence (total sample sizes, both arms).

    ``alpha`` is the level per test (α/m under a correction), ``nominal_alpha`` the level ρ is
    tuned at and ``tuning`` N*, as in the analysis.
    """
    r = rho(nominal_alpha, tuning)
    za, zb = float(stats.norm.ppf(1 - alpha / 2)), float(stats.norm.ppf(power))

    def gap(n: float) -> float:
        return n - n_fixed * ((cs_boundary(n, alpha, r) + zb) / (za + zb)) ** 2

    n = float(optimize.brentq(gap, n_fixed, n_fixed * 1e4, xtol=1e-9 * n_fixed))
    return n / n_fixed


def design_inflation(design: GroupSequentialDesign, alpha: float, power: float) -> float:
    """Return the group-sequential design's maximum sample over the fixed one."""
    return inflation(design.planned, alpha, power, design.spending)
