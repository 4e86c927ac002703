"""CUPED: variance reduction with pre-period covariates (Deng et al., WSDM 2013).

Each variant's estimate f (over post-period components) is adjusted by the same formula g
over the pre-period covariates (x→c, y→d): h = f − θ·(g − ḡ), with one θ shared by the two
arms of a comparison and ḡ the formula at the pooled means of both arms (so h stays on the
metric's scale; differences do not depend on ḡ). Under randomisation E[g_t] = E[g_c], so
h_t − h_c estimates the same difference as f_t − f_c with less variance.

θ is estimated as in gbstats (the numbers are matched to reference sections 4 and 4b):

* mean metrics (one component): the OLS slope of y on c in the pooled sample of both arms,
  Cov(y, c) / Var(c) with n − 1 denominators (gbstats ``compute_theta``);
* ratio and other formulas: Σ_v ∇f_vᵀΣ_v∇g_v / Σ_v ∇g_vᵀΣ_v∇g_v over the two arms, the
  delta-method analogue (gbstats ``compute_theta_regression_adjusted_ratio``).

If the covariate has no variance θ is 0 and the result equals the unadjusted analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

from metricspec.stats.formula import Component, Formula
from metricspec.stats.moments import Moments
from metricspec.stats.summary import VariantSummary, linearise, quadratic

__all__ = ["CupedArm", "CupedFit", "cuped_arm", "cuped_fit"]


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


@dataclass(frozen=True, slots=True)
class CupedArm:
    """One arm's pieces for CUPED: f, g and the per-unit (co)variances of f and g."""

    moments: Moments
    f: float
    g: float
    var_f: float
    cov_fg: float
    var_g: float


def cuped_arm(formula: Formula, pre: Formula, moments: Moments) -> CupedArm | str:
    """Return f, g and Var f, Cov(f, g), Var g in one arm (independent of θ)."""
    f = linearise(formula, moments)
    if isinstance(f, str):
        return f
    g = linearise(pre, moments)
    if isinstance(g, str):
        return f"pre-period covariate: {g}"
    var_f, cov_fg = quadratic(f[1], f[1], moments), quadratic(f[1], g[1], moments)
    var_g = quadratic(g[1], g[1], moments)
    if isinstance(var_f, str):
        return var_f
    if isinstance(cov_fg, str):
        return cov_fg
    if isinstance(var_g, str):
        return var_g
    return CupedArm(moments, f[0], g[0], var_f, cov_fg, var_g)


def cuped_fit(
    formula: Formula, pre: Formula, control: CupedArm, treatment: CupedArm
) -> CupedFit | str:
    """Return the CUPED-adjusted summaries of one comparison, or why it cannot be done.

    ``pre`` is ``formula`` over the covariates (``formula.substitute(covariates)``).
    Per arm only Var f, Cov(f, g) and Var g are needed: with h = f − θ(g − ḡ),
    Var h = Var f − 2θ Cov(f, g) + θ² Var g and Cov(h, f) = Var f − θ Cov(f, g).
    """
    single = isinstance(formula, Component)
    mc, mt = control.moments, treatment.moments
    if isinstance(formula, Component) and isinstance(pre, Component):
        theta = _pooled_theta(formula.name, pre.name, mc, mt)
        method = "pooled OLS slope Cov(y,c)/Var(c) over both arms"
    else:
        den = control.var_g + treatment.var_g
        theta = (control.cov_fg + treatment.cov_fg) / den if den > 0.0 else 0.0
        method = "Σ_v Cov(f,g) / Σ_v Var(g) by the delta method over both arms"
    if isinstance(theta, str):
        return theta
    total = mc.n + mt.n
    pooled = {k: (mc.sums[k] + mt.sums[k]) / total for k in pre.components()}
    try:
        centre = pre.evaluate(pooled)
    except ZeroDivisionError:
        return "pre-period covariate: a pooled denominator mean is zero"
    summaries: list[VariantSummary] = []
    var_adj = var_raw = 0.0
    for arm in (control, treatment):
        s_ff = max(arm.var_f, 0.0)
        s_hh = max(arm.var_f - 2.0 * theta * arm.cov_fg + theta * theta * arm.var_g, 0.0)
        s_hf = arm.var_f - theta * arm.cov_fg
        value = arm.f - theta * (arm.g - centre)
        n = arm.moments.n
        summaries.append(VariantSummary(n, value, arm.f, s_hh, s_hf, s_ff))
        var_adj += s_hh / n
        var_raw += s_ff / n
    reduction = 1.0 - var_adj / var_raw if var_raw > 0.0 else 0.0
    return CupedFit(theta, method, summaries[0], summaries[1], reduction, not single)
