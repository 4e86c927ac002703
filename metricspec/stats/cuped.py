"""CUPED: variance reduction with pre-period covariates (Deng et al., WSDM 2013).

Each variant's estimate f (over post-period components) is adjusted by the same formula g
over the pre-period covariates (x→c, y→d): h = f − θ·g, with one θ shared by the two arms
of a comparison. Under randomisation E[g_t] = E[g_c], so h_t − h_c estimates the same
difference as f_t − f_c with less variance.

θ is estimated as in gbstats (the numbers are matched to reference sections 4 and 4b):

* mean metrics (one component): the OLS slope of y on c in the pooled sample of both arms,
  Cov(y, c) / Var(c) with n − 1 denominators (gbstats ``compute_theta``);
* ratio and other formulas: Σ_v ∇f_vᵀΣ_v∇g_v / Σ_v ∇g_vᵀΣ_v∇g_v over the two arms, the
  delta-method analogue (gbstats ``compute_theta_regression_adjusted_ratio``).

If the covariate has no variance θ is 0 and the result equals the unadjusted analysis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from metricspec.stats.formula import Component, Formula
from metricspec.stats.moments import Moments
from metricspec.stats.summary import VariantSummary, linearise, quadratic

__all__ = ["CupedFit", "cuped_fit"]


@dataclass(frozen=True, slots=True)
class CupedFit:
    """A CUPED adjustment of one comparison.

    Attributes:
        theta: The shared adjustment coefficient.
        theta_method: How θ was estimated.
        control: Adjusted control summary.
        treatment: Adjusted treatment summary.
        variance_reduction: 1 − Var(ĥ_t − ĥ_c) / Var(f̂_t − f̂_c).
        relative_plugin_adjusted: Whether the relative lift's delta-method gradient is
            evaluated at the adjusted difference (ratio, gbstats 4b) rather than the
            unadjusted one (mean, gbstats 4); see docs/statistics.md.
    """

    theta: float
    theta_method: str
    control: VariantSummary
    treatment: VariantSummary
    variance_reduction: float
    relative_plugin_adjusted: bool


def _pooled_theta(post: str, pre: str, a: Moments, b: Moments) -> float | str:
    n = a.n + b.n
    sums: list[float] = []
    for name in (post, pre):
        if not (a.has(name) and b.has(name)):
            return f"missing sums for {name}"
        sums.append(a.sums[name] + b.sums[name])
    prods: list[float] = []
    for j, k in ((post, pre), (pre, pre), (post, post)):
        pa, pb = a.product(j, k), b.product(j, k)
        if pa is None or pb is None:
            return f"missing sum of products {j}·{k}"
        prods.append(pa + pb)
    sy, sc = sums
    cov = (prods[0] - sy * sc / n) / (n - 1)
    var_c = (prods[1] - sc * sc / n) / (n - 1)
    var_y = (prods[2] - sy * sy / n) / (n - 1)
    if var_c <= 0.0 or var_y <= 0.0:
        return 0.0
    return cov / var_c


def cuped_fit(
    formula: Formula, covariates: Mapping[str, str], control: Moments, treatment: Moments
) -> CupedFit | str:
    """Return the CUPED-adjusted summaries of one comparison, or why it cannot be done."""
    pre = formula.substitute(covariates)
    lins = []
    for m in (control, treatment):
        f = linearise(formula, m)
        if isinstance(f, str):
            return f
        g = linearise(pre, m)
        if isinstance(g, str):
            return f"pre-period covariate: {g}"
        lins.append((m, f, g))
    single = isinstance(formula, Component)
    if isinstance(formula, Component) and isinstance(pre, Component):
        theta = _pooled_theta(formula.name, pre.name, control, treatment)
        method = "pooled OLS slope Cov(y,c)/Var(c) over both arms"
    else:
        num = den = 0.0
        for m, (_, gf), (_, gg) in lins:
            cov = quadratic(gf, gg, m)
            var = quadratic(gg, gg, m)
            if isinstance(cov, str):
                return cov
            if isinstance(var, str):
                return var
            num += cov
            den += var
        theta = num / den if den > 0.0 else 0.0
        method = "Σ_v Cov(f,g) / Σ_v Var(g) by the delta method over both arms"
    if isinstance(theta, str):
        return theta
    summaries: list[VariantSummary] = []
    var_adj = var_raw = 0.0
    for m, (fv, gf), (gv, gg) in lins:
        gh = dict(gf)
        for k, v in gg.items():
            gh[k] = gh.get(k, 0.0) - theta * v
        s_hh, s_hf, s_ff = quadratic(gh, gh, m), quadratic(gh, gf, m), quadratic(gf, gf, m)
        if isinstance(s_hh, str):
            return s_hh
        if isinstance(s_hf, str):
            return s_hf
        if isinstance(s_ff, str):
            return s_ff
        s_hh, s_ff = max(s_hh, 0.0), max(s_ff, 0.0)
        summaries.append(VariantSummary(m.n, fv - theta * gv, fv, s_hh, s_hf, s_ff))
        var_adj += s_hh / m.n
        var_raw += s_ff / m.n
    reduction = 1.0 - var_adj / var_raw if var_raw > 0.0 else 0.0
    return CupedFit(theta, method, summaries[0], summaries[1], reduction, not single)
