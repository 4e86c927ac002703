"""Turn one (metric, segment, treatment) cell of data into a pair of variant summaries.

This is where each metric kind picks its estimator and variance (and thus its convention);
everything after this step is the same vectorised comparison for every kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from metricspec.stats.cuped import CupedFit, cuped_fit
from metricspec.stats.data import SegmentData, VariantData
from metricspec.stats.formula import Component, Formula
from metricspec.stats.moments import Moments
from metricspec.stats.quantile import quantile_summary
from metricspec.stats.spec import MetricKind, MetricSpec
from metricspec.stats.summary import VariantSummary, delta_summary, proportion_summary

__all__ = ["Method", "Prepared", "prepare"]


@dataclass(frozen=True, slots=True)
class Method:
    """The convention a metric kind is analysed with (copied into every result)."""

    test: str
    variance: str
    lift: str
    matches: str


_LIFT = "relative lift (treatment − control) / control, delta-method SE, same df"
_LIFT_CUPED = (
    "relative lift (adjusted treatment − adjusted control) / unadjusted control, "
    "delta-method SE, same df"
)
METHODS = {
    "mean": Method(
        "welch_t",
        "sample variance (n − 1) per arm, unpooled; Welch–Satterthwaite df",
        _LIFT,
        "scipy.stats.ttest_ind(equal_var=False); gbstats TwoSidedTTest (ref. 1)",
    ),
    "proportion": Method(
        "z",
        "unpooled binomial variance p(1 − p)/n per arm",
        _LIFT.replace("same df", "z"),
        "statsmodels test_proportions_2indep / confint_proportions_2indep "
        "method='wald' (ref. 2); gbstats uses t instead of z",
    ),
    "ratio": Method(
        "welch_t",
        "delta method with covariance term (Deng et al. 2018); "
        "Welch–Satterthwaite df on the per-arm delta variances",
        _LIFT,
        "gbstats RatioStatistic TwoSidedTTest (ref. 3)",
    ),
    "derived": Method(
        "welch_t",
        "delta method over all components of the formula (n − 1 covariances); "
        "Welch–Satterthwaite df",
        _LIFT,
        "generalises ref. 3 (delta method)",
    ),
    "quantile": Method(
        "welch_t",
        "quantile variance from the quantile's order-statistic interval, "
        "inflated for clustering by unit; n = events",
        _LIFT,
        "gbstats QuantileStatistic / QuantileClusteredStatistic (ref. 8)",
    ),
    "cuped_mean": Method(
        "welch_t",
        "CUPED: h = ȳ − θ·c̄, θ pooled OLS slope; Welch–Satterthwaite df on adjusted variances",
        _LIFT_CUPED,
        "gbstats RegressionAdjustedStatistic (ref. 4: absolute C = D; relative D)",
    ),
    "cuped_ratio": Method(
        "welch_t",
        "CUPED for formulas: h = f − θ·g by the delta method; Welch–Satterthwaite "
        "df on adjusted variances",
        _LIFT_CUPED,
        "gbstats RegressionAdjustedRatioStatistic (ref. 4b, revision D)",
    ),
    "cuped_proportion": Method(
        "z",
        "CUPED: h = p̂ − θ·c̄ with sample (n − 1) moments, θ pooled OLS slope",
        _LIFT_CUPED.replace("same df", "z"),
        "ref. 4 with a z quantile",
    ),
}


@dataclass(frozen=True, slots=True)
class Prepared:
    """One comparison ready for inference, or the reason it cannot be made."""

    spec: MetricSpec
    segment: SegmentData
    control: str
    treatment: str
    method: Method
    n_control: float | None
    n_treatment: float | None
    pair: tuple[VariantSummary, VariantSummary] | None
    use_t: bool
    plugin_adjusted: bool
    cuped: CupedFit | None
    reason: str | None


def _method_key(spec: MetricSpec) -> str:
    kind = spec.kind.value
    if spec.cuped and spec.kind is not MetricKind.QUANTILE:
        if spec.kind is MetricKind.PROPORTION:
            return "cuped_proportion"
        return "cuped_mean" if isinstance(spec.formula, Component) else "cuped_ratio"
    return kind


def _moments(spec: MetricSpec, formula: Formula, data: VariantData) -> Moments | str:
    names = set(formula.components())
    if spec.cuped:
        names |= set(formula.substitute(spec.cuped).components())
    return data.moments_for(names)


def prepare(spec: MetricSpec, segment: SegmentData, control: str, treatment: str) -> Prepared:
    """Return the prepared comparison of ``treatment`` against ``control`` for one metric."""
    key = _method_key(spec)
    method = METHODS[key]
    use_t = method.test == "welch_t"

    def fail(reason: str, nc: float | None = None, nt: float | None = None) -> Prepared:
        return Prepared(
            spec, segment, control, treatment, method, nc, nt, None, use_t, False, None, reason
        )

    arms = []
    for v in (control, treatment):
        data = segment.variants.get(v)
        if data is None:
            return fail(f"no data for variant {v!r}")
        arms.append(data)
    if spec.kind is MetricKind.QUANTILE:
        qc, qt = arms[0].quantiles.get(spec.name), arms[1].quantiles.get(spec.name)
        if qc is None or qt is None:
            return fail(f"no quantile statistics for {spec.name}")
        nu = spec.quantile_level or 0.5
        sc, st = quantile_summary(qc, nu), quantile_summary(qt, nu)
        return _finish(
            spec, segment, control, treatment, method, sc, st, qc.n_events, qt.n_events, None
        )
    formula = spec.formula
    assert formula is not None
    ms = [_moments(spec, formula, a) for a in arms]
    if isinstance(ms[0], str) or isinstance(ms[1], str):
        return fail(next(m for m in ms if isinstance(m, str)))
    mc, mt = ms[0], ms[1]
    if spec.cuped:
        fit = cuped_fit(formula, spec.cuped, mc, mt)
        if isinstance(fit, str):
            return fail(fit, mc.n, mt.n)
        return _finish(
            spec,
            segment,
            control,
            treatment,
            method,
            fit.control,
            fit.treatment,
            mc.n,
            mt.n,
            fit,
        )
    if spec.kind is MetricKind.PROPORTION:
        if not isinstance(formula, Component):
            return fail("a proportion metric must be the mean of one 0/1 component")
        sc, st = proportion_summary(formula.name, mc), proportion_summary(formula.name, mt)
    else:
        sc, st = delta_summary(formula, mc), delta_summary(formula, mt)
    return _finish(spec, segment, control, treatment, method, sc, st, mc.n, mt.n, None)


def _finish(
    spec: MetricSpec,
    segment: SegmentData,
    control: str,
    treatment: str,
    method: Method,
    sc: VariantSummary | str,
    st: VariantSummary | str,
    nc: float,
    nt: float,
    fit: CupedFit | None,
) -> Prepared:
    reason: str | None = None
    if isinstance(sc, str):
        reason = f"control: {sc}"
    elif isinstance(st, str):
        reason = f"treatment: {st}"
    elif not (sc.is_finite() and st.is_finite()):
        reason = "statistics are not finite"
    elif sc.var <= 0.0 and st.var <= 0.0:
        reason = "zero variance in both arms"
    elif sc.base == 0.0:
        reason = "control value is zero; relative lift undefined"
    use_t = method.test == "welch_t"
    if reason is not None or isinstance(sc, str) or isinstance(st, str):
        return Prepared(
            spec, segment, control, treatment, method, nc, nt, None, use_t, False, fit, reason
        )
    plugin = fit.relative_plugin_adjusted if fit is not None else True
    return Prepared(
        spec, segment, control, treatment, method, nc, nt, (sc, st), use_t, plugin, fit, None
    )
