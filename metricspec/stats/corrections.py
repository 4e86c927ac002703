"""Multiple-testing corrections over the family of primary and secondary comparisons.

Adjusted p-values equal statsmodels ``multipletests`` (reference section 7):

* Bonferroni: min(1, m·p).
* Holm (1979): step-down, p̃_(i) = max_{j ≤ i} min(1, (m − j + 1)·p_(j)).
* Benjamini & Hochberg (1995): step-up, p̃_(i) = min_{j ≥ i} min(1, m·p_(j)/j).

Members without a p-value (insufficient data) count as p = 1: they stay in the declared
family (m does not shrink when data are missing) and are never rejected.

Confidence intervals of family members are widened to match, so that an interval excludes
zero exactly when the corrected test rejects (a report row never contradicts itself):
Bonferroni uses α/m, the simultaneous Bonferroni level; BH the false-coverage-rate level
R·α/m of Benjamini & Yekutieli (2005), R the number of rejections (at least 1); Holm, which
has no simultaneous intervals compatible with its step-down in general, gives each member
the level it was tested at, α·p/p̃ (α/(m − k + 1) at its step k, lower when an earlier step
dominates; between α/m and α), see `holm_interval_alpha`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from metricspec.stats.spec import Correction

__all__ = ["adjust", "holm_interval_alpha", "interval_alpha"]

Array = npt.NDArray[np.float64]


def adjust(p_values: npt.ArrayLike, method: Correction) -> Array:
    """Return adjusted p-values (NaN members are treated as p = 1).

    >>> adjust([0.01, 0.04, 0.03], Correction.HOLM).round(4).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    p = np.where(np.isnan(p), 1.0, p)
    m = p.size
    if m == 0 or method is Correction.NONE:
        return p.copy()
    if method is Correction.BONFERRONI:
        return np.asarray(np.minimum(1.0, p * m), dtype=float)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method is Correction.HOLM:
        adj = np.maximum.accumulate(ranked * np.arange(m, 0, -1))
    elif method is Correction.BH:
        adj = np.minimum.accumulate((ranked * m / np.arange(1, m + 1))[::-1])[::-1]
    else:  # pragma: no cover - exhaustive over Correction
        raise ValueError(f"unknown correction {method}")
    out = np.empty(m)
    out[order] = np.minimum(1.0, adj)
    return out


def interval_alpha(method: Correction, alpha: float, m: int, rejections: int) -> float:
    """Return the per-interval alpha that matches the correction.

    >>> interval_alpha(Correction.BONFERRONI, 0.05, 10, 3)
    0.005
    >>> round(interval_alpha(Correction.BH, 0.05, 10, 3), 12)
    0.015
    """
    if method is Correction.NONE or m <= 1:
        return alpha
    if method is Correction.BH:
        return alpha * max(rejections, 1) / m
    return alpha / m


def holm_interval_alpha(p_values: Array, adjusted: Array, alpha: float) -> Array:
    """Return each Holm member's interval alpha α·p/p̃, within [α/m, α].

    At that level a member's interval excludes 0 exactly when its unadjusted p-value is
    below α·p/p̃, i.e. when p̃ < α: when Holm rejects it. Members without a p-value get α/m.

    >>> holm_interval_alpha(np.array([0.01, 0.04, 0.03]), np.array([0.03, 0.06, 0.06]), 0.05)
    array([0.01666667, 0.03333333, 0.025     ])
    """
    m = max(p_values.size, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        level = alpha * p_values / adjusted
    level = np.where(np.isfinite(level) & (adjusted > 0), level, alpha / m)
    return np.asarray(np.clip(level, alpha / m, alpha), dtype=float)
