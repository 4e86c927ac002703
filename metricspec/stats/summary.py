"""Per-variant estimates and their per-unit variances (the delta method).

For a metric value f(μ) of component means μ, the delta method (Deng, Knoblich & Lu, KDD
2018) gives Var f(μ̂) ≈ ∇fᵀ Σ ∇f / n with Σ the sample covariance (n − 1) of the unit-level
components. A ratio is the two-component case with its covariance term; a mean is the
one-component case, where the "delta" variance is exactly the sample variance.

Every function here returns either a `VariantSummary` or a string: the reason the estimate
is unavailable (which the engine turns into an "insufficient data" result).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from metricspec.stats.formula import Component, Formula
from metricspec.stats.moments import Moments

__all__ = ["VariantSummary", "delta_summary", "linearise", "proportion_summary", "quadratic"]


@dataclass(frozen=True, slots=True)
class VariantSummary:
    """One variant's estimate, reduced to what a two-sample comparison needs.

    With CUPED the reported value h = f − θg differs from the unadjusted value f; the
    relative lift divides by the control's |f|, so its delta method also needs Var f and
    Cov(h, f). Without CUPED all three (co)variances coincide.

    Attributes:
        n: Sample size the per-unit variances refer to (units; events for quantiles).
        value: Estimate h (CUPED-adjusted when applicable).
        base: Unadjusted estimate f.
        var: Per-unit variance of h (so Var ĥ = var / n).
        cov_base: Per-unit covariance of h and f.
        var_base: Per-unit variance of f.
    """

    n: float
    value: float
    base: float
    var: float
    cov_base: float
    var_base: float

    @classmethod
    def plain(cls, n: float, value: float, var: float) -> VariantSummary:
        """Return a summary without adjustment (h = f)."""
        return cls(n, value, value, var, var, var)

    def is_finite(self) -> bool:
        """Return whether every field is finite."""
        isfinite = math.isfinite
        return (
            isfinite(self.n)
            and isfinite(self.value)
            and isfinite(self.base)
            and isfinite(self.var)
            and isfinite(self.cov_base)
            and isfinite(self.var_base)
        )


def linearise(formula: Formula, moments: Moments) -> tuple[float, dict[str, float]] | str:
    """Return f and ∇f at the observed means, or why they cannot be computed."""
    if moments.n < 2:
        return f"fewer than 2 units (n={moments.n})"
    sums = moments.sums
    if type(formula) is Component:  # the common case, without the tree machinery
        total = sums.get(formula.name)
        if total is None:
            return f"missing sums for {formula.name}"
        mean = total / moments.n
        return (mean, {formula.name: 1.0}) if math.isfinite(mean) else "numerical overflow"
    names = formula.components()
    if not all(c in sums for c in names):
        return f"missing sums for {', '.join(sorted(c for c in names if c not in sums))}"
    n = moments.n
    means = {c: sums[c] / n for c in names}
    try:
        value, grad = formula.forward(means)
    except ZeroDivisionError:
        return "a denominator mean is zero"
    except OverflowError:
        return "numerical overflow"
    if not math.isfinite(value) or not all(math.isfinite(g) for g in grad.values()):
        return "the metric value is not finite"
    return value, grad


def quadratic(a: Mapping[str, float], b: Mapping[str, float], moments: Moments) -> float | str:
    """Return aᵀ Σ b with Σ the per-unit sample covariance of the components, or a reason."""
    total = 0.0
    if a is b:  # symmetric form: visit each unordered pair once
        items = [(k, v) for k, v in a.items() if v != 0.0]
        for i, (j, aj) in enumerate(items):
            for k, ak in items[i:]:
                cov = moments.covariance(j, k)
                if cov is None:
                    return f"missing sum of products {j}·{k}"
                total += (aj * ak * cov) if j == k else 2.0 * aj * ak * cov
        return total
    for j, aj in a.items():
        if aj == 0.0:
            continue
        for k, bk in b.items():
            if bk == 0.0:
                continue
            cov = moments.covariance(j, k)
            if cov is None:
                return f"missing sum of products {j}·{k}"
            total += aj * bk * cov
    return total


def delta_summary(formula: Formula, moments: Moments) -> VariantSummary | str:
    """Return the delta-method summary of ``formula`` in one variant.

    >>> m = Moments.from_units({"r.x": [1.0, 2.0, 3.0, 2.0], "r.y": [2.0, 2.0, 4.0, 4.0]})
    >>> from metricspec.stats.formula import ratio_of
    >>> s = delta_summary(ratio_of("r"), m)
    >>> round(s.value, 6), round(s.var, 6)
    (0.666667, 0.041152)
    """
    lin = linearise(formula, moments)
    if isinstance(lin, str):
        return lin
    value, grad = lin
    var = quadratic(grad, grad, moments)
    if isinstance(var, str):
        return var
    return VariantSummary.plain(moments.n, value, max(var, 0.0))


def proportion_summary(component: str, moments: Moments) -> VariantSummary | str:
    """Return a proportion's summary with the binomial variance p(1 − p) (n denominator).

    This is the unpooled variance of statsmodels ``test_proportions_2indep(method='wald')``.
    """
    if moments.n < 2:
        return f"fewer than 2 units (n={moments.n})"
    if not moments.has(component):
        return f"missing sums for {component}"
    p = moments.sums[component] / moments.n
    if not math.isfinite(p) or p < 0.0 or p > 1.0:
        return f"proportion {component} is outside [0, 1] (p={p:g})"
    return VariantSummary.plain(moments.n, p, p * (1.0 - p))
