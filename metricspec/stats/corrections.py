"""Multiple-testing corrections over the family of primary and secondary comparisons.

Adjusted p-values equal statsmodels ``multipletests`` (reference section 7):

* Bonferroni: min(1, m·p).
* Holm (1979): step-down, p̃_(i) = max_{j ≤ i} min(1, (m − j + 1)·p_(j)).
* Benjamini & Hochberg (1995): step-up, p̃_(i) = min_{j ≥ i} min(1, m·p_(j)/j).

Members without a p-value (insufficient data) count as p = 1: they stay in the declared
family (m does not shrink when data are missing) and are never rejected.

Confidence intervals of family members are widened to match (`interval_alpha`):
Bonferroni and Holm use α/m, the simultaneous Bonferroni level (Holm has no compatible
simultaneous intervals in general, so its intervals are Bonferroni's and may still contain
zero for a hypothesis Holm rejects); BH uses the false-coverage-rate level R·α/m of
Benjamini & Yekutieli (2005), with R the number of rejections (at least 1).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from metricspec.stats.spec import Correction

__all__ = ["adjust", "interval_alpha"]

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
