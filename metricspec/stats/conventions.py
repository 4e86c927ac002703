"""The conventions each metric kind is analysed with, spelled out for results and plans.

`describe` gives the same `Conventions` record the engine attaches to every result, so a
pre-registered analysis plan can state them before any data exist (df and the corrected
confidence level are then unknown or nominal).
"""

from __future__ import annotations

from dataclasses import dataclass

from metricspec.stats.formula import Component
from metricspec.stats.results import Conventions, finite
from metricspec.stats.spec import Correction, ExperimentConfig, MetricKind, MetricSpec

__all__ = ["METHODS", "Method", "describe", "method_for"]


@dataclass(frozen=True, slots=True)
class Method:
    """The convention a metric kind is analysed with (copied into every result)."""

    test: str
    variance: str
    lift: str
    matches: str


_LIFT = "relative lift (treatment − control) / |control|, delta-method SE, same df"
_LIFT_CUPED = (
    "relative lift (adjusted treatment − adjusted control) / |unadjusted control|, "
    "delta-method SE, same df"
)
METHODS: dict[str, Method] = {
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
        "CUPED: h = ȳ − θ·(c̄ − c̄_pooled), θ pooled OLS slope; Welch–Satterthwaite df "
        "on adjusted variances",
        _LIFT_CUPED,
        "gbstats RegressionAdjustedStatistic (ref. 4: absolute C = D; relative D)",
    ),
    "cuped_ratio": Method(
        "welch_t",
        "CUPED for formulas: h = f − θ·(g − g_pooled) by the delta method; Welch–Satterthwaite "
        "df on adjusted variances",
        _LIFT_CUPED,
        "gbstats RegressionAdjustedRatioStatistic (ref. 4b, revision D)",
    ),
    "cuped_proportion": Method(
        "z",
        "CUPED: h = p̂ − θ·(c̄ − c̄_pooled) with sample (n − 1) moments, θ pooled OLS slope",
        _LIFT_CUPED.replace("same df", "z"),
        "ref. 4 with a z quantile",
    ),
}


def method_for(spec: MetricSpec) -> Method:
    """Return the method (test, variance, lift, reference) used for ``spec``."""
    return METHODS[_method_key(spec)]


def _method_key(spec: MetricSpec) -> str:
    kind = spec.kind.value
    if spec.cuped and spec.kind is not MetricKind.QUANTILE:
        if spec.kind is MetricKind.PROPORTION:
            return "cuped_proportion"
        return "cuped_mean" if isinstance(spec.formula, Component) else "cuped_ratio"
    return kind


def describe(
    spec: MetricSpec,
    config: ExperimentConfig,
    *,
    df: float | None = None,
    ci_alpha: float | None = None,
    method: Method | None = None,
) -> Conventions:
    """Return the conventions ``spec`` is analysed with under ``config``.

    Args:
        spec: The metric.
        config: The experiment settings (correction, sequential, N*).
        df: Degrees of freedom, once known (Welch t only).
        ci_alpha: The per-interval alpha after correction; defaults to ``config.alpha``.
        method: ``method_for(spec)``, if already known.
    """
    m = method if method is not None else method_for(spec)
    corrected = spec.in_family and config.correction is not Correction.NONE
    alpha = config.alpha if ci_alpha is None else ci_alpha
    if config.sequential:
        interval_kind = (
            "always-valid confidence sequence (Waudby-Smith et al. 2021, eq. 9), "
            f"N* = {config.sequential_tuning:g}; always-valid p-value"
        )
        test, df = "always_valid_z", None
    else:
        interval_kind, test = "fixed-horizon confidence interval", m.test
    return Conventions(
        test=test,
        df=finite(df) if test == "welch_t" else None,
        variance=m.variance,
        lift=m.lift,
        sidedness="two-sided",
        interval=interval_kind,
        ci_level=1.0 - alpha,
        correction=config.correction.value if corrected else "none",
        matches=m.matches,
    )
