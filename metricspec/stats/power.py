"""Power: sample size per variant, minimum detectable effect, expected duration.

Normal approximation for a two-sided test at level α' with power 1 − β. With traffic
shares w_c, w_t of N total units and per-unit variances σ_c², σ_t² of the two arms:

    N = (z₁₋α'/2 + z₁₋β)² · (σ_c²/w_c + σ_t²/w_t) / δ²,     n_v = N·w_v.

For an even split this is n = (z₁₋α'/2 + z₁₋β)²(σ_c² + σ_t²)/δ² per variant (reference 5a
and 5b "hand" lines). Per-unit variances come from baseline moments:

* mean: the sample variance, the same in both arms;
* proportion: p(1 − p) in control and p_t(1 − p_t) in treatment, p_t = p ± δ (unpooled);
* ratio / derived: the delta-method variance ∇fᵀΣ∇f;
* CUPED: the above × (1 − ρ²), ρ the correlation of f with its pre-period counterpart.

With a correction, α' = α/m for m tests in the family ((primaries + secondaries) ×
treatments), a conservative Bonferroni split also used for Holm and BH. With several
treatments, N is the largest requirement over the treatment-vs-control comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from scipy import optimize, stats

from metricspec.stats.formula import Component
from metricspec.stats.moments import Moments
from metricspec.stats.results import Serialisable
from metricspec.stats.spec import (
    Correction,
    Direction,
    ExperimentConfig,
    Mde,
    MetricKind,
    MetricSpec,
)
from metricspec.stats.summary import linearise, quadratic

__all__ = [
    "DECLARED_UNITS",
    "PowerPlan",
    "declared_moments",
    "declared_power_spec",
    "expected_duration_days",
    "family_size",
    "minimum_detectable_effect",
    "plan_power",
    "sample_size_per_variant",
]


def _z(alpha: float, power: float) -> float:
    return float(stats.norm.ppf(1.0 - alpha / 2.0) + stats.norm.ppf(power))


def sample_size_per_variant(
    var_control: float,
    var_treatment: float,
    delta: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    share_control: float = 0.5,
    share_treatment: float = 0.5,
) -> tuple[float, float]:
    """Return the (control, treatment) sample sizes, unrounded, to detect ``delta``.

    >>> round(sample_size_per_variant(0.09, 0.11 * 0.89, 0.01)[0], 5)
    14748.04502
    """
    total = _z(alpha, power) ** 2 * (var_control / share_control + var_treatment / share_treatment)
    total /= delta * delta
    return total * share_control, total * share_treatment


def minimum_detectable_effect(
    var_control: float,
    var_treatment: float,
    n_control: float,
    n_treatment: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """Return the absolute effect detectable with the given sample sizes."""
    return _z(alpha, power) * math.sqrt(var_control / n_control + var_treatment / n_treatment)


def expected_duration_days(total_units: float, daily_units: float) -> float:
    """Return the days needed to expose ``total_units`` at ``daily_units`` per day."""
    return total_units / daily_units


def family_size(metrics: Sequence[MetricSpec], config: ExperimentConfig) -> int:
    """Return the number of tests in the correction family."""
    return max(1, sum(m.in_family for m in metrics) * len(config.treatments))


@dataclass(frozen=True, slots=True)
class PowerPlan(Serialisable):
    """Sample size (and MDE at a given traffic) for one metric; ``reason`` if unavailable.

    Attributes:
        metric: Metric name.
        alpha_per_test: Two-sided level used per test (α/m with a correction).
        power: Target power.
        method: The convention, in words.
        reason: Why nothing could be computed, if so.
        baseline_value: Baseline metric value.
        baseline_variance: Per-unit variance (before CUPED).
        variance_reduction: ρ² removed by CUPED, if used.
        effect_absolute: The effect to detect, absolute.
        effect_relative: The effect to detect, relative to the baseline.
        n_per_variant: Units per variant, rounded up.
        exact_per_variant: Units per variant, unrounded.
        total_units: Sum of ``n_per_variant``.
        duration_days: Days of traffic needed, if daily traffic was given.
        mde_absolute: Effect detectable with ``available_units``, absolute.
        mde_relative: The same, relative to the baseline.
    """

    metric: str
    alpha_per_test: float
    power: float
    method: str
    reason: str | None = None
    baseline_value: float | None = None
    baseline_variance: float | None = None
    variance_reduction: float | None = None
    effect_absolute: float | None = None
    effect_relative: float | None = None
    n_per_variant: Mapping[str, int] = field(default_factory=dict)
    exact_per_variant: Mapping[str, float] = field(default_factory=dict)
    total_units: int | None = None
    duration_days: float | None = None
    mde_absolute: float | None = None
    mde_relative: float | None = None


def _baseline(metric: MetricSpec, baseline: Moments) -> tuple[float, float, float] | str:
    """Return (value, per-unit variance, CUPED variance factor 1 − ρ²)."""
    formula = metric.formula
    if formula is None or metric.kind is MetricKind.QUANTILE:
        return "power for quantile metrics is not supported"
    lin = linearise(formula, baseline)
    if isinstance(lin, str):
        return lin
    value, grad = lin
    var = quadratic(grad, grad, baseline)
    if isinstance(var, str):
        return var
    factor = 1.0
    if metric.cuped:
        pre = linearise(formula.substitute(metric.cuped), baseline)
        if isinstance(pre, str):
            return f"pre-period covariate: {pre}"
        cov, var_g = quadratic(grad, pre[1], baseline), quadratic(pre[1], pre[1], baseline)
        if isinstance(cov, str) or isinstance(var_g, str):
            return "missing covariate products"
        if var > 0 and var_g > 0:
            factor = 1.0 - min(cov * cov / (var * var_g), 1.0)
    if metric.kind is MetricKind.PROPORTION and isinstance(formula, Component):
        if not 0.0 < value < 1.0:
            return f"a proportion's baseline must be between 0 and 1 (exclusive), got {value:g}"
        var = value * (1.0 - value)
    if not (var > 0 and math.isfinite(var)):
        return "baseline variance is zero"
    return value, var, factor


def plan_power(
    metric: MetricSpec,
    baseline: Moments,
    config: ExperimentConfig,
    *,
    mde: Mde | None = None,
    tests: int = 1,
    daily_units: float | None = None,
    available_units: float | None = None,
) -> PowerPlan:
    """Return sample sizes for ``metric`` from baseline moments, and the MDE at given traffic.

    Args:
        metric: The metric (kind, formula, CUPED mapping, direction).
        baseline: Moments of the metric over a historical window (one population).
        config: Variants and split, alpha, power, correction and the default MDE.
        mde: Effect to detect; defaults to ``config.mde``.
        tests: Size of the correction family (see `family_size`).
        daily_units: Eligible units per day, for the expected duration.
        available_units: Total units available, for the MDE at that traffic.
    """
    alpha = config.alpha / tests if config.correction is not Correction.NONE else config.alpha
    effect = mde or config.mde
    base = _baseline(metric, baseline)
    method = "normal approximation, unpooled variances" + (
        f", alpha/{tests} per test" if alpha != config.alpha else ""
    )

    def empty(reason: str) -> PowerPlan:
        return PowerPlan(metric.name, alpha, config.power, method, reason)

    if isinstance(base, str):
        return empty(base)
    value, var, factor = base
    var_c = var * factor
    proportion = metric.kind is MetricKind.PROPORTION
    sign = -1.0 if metric.direction is Direction.DECREASE else 1.0
    w_c = config.split[config.control]

    def var_t(delta: float) -> float:
        if not proportion:
            return var_c
        p_t = min(max(value + sign * delta, 0.0), 1.0)
        return p_t * (1.0 - p_t) * factor

    n_per: dict[str, int] = {}
    exact_per: dict[str, float] = {}
    total = duration = delta = rel = None
    if effect is not None:
        delta = effect.value * abs(value) if effect.relative else effect.value
        if delta <= 0:
            return empty("baseline value is zero; a relative MDE is undefined")
        z2 = _z(alpha, config.power) ** 2
        exact = max(
            z2 * (var_c / w_c + var_t(delta) / config.split[t]) / delta**2
            for t in config.treatments
        )
        exact_per = {v: exact * w for v, w in config.split.items()}
        n_per = {v: math.ceil(x - 1e-9) for v, x in exact_per.items()}
        total = sum(n_per.values())
        rel = delta / abs(value) if value else None
        if daily_units:
            duration = expected_duration_days(exact, daily_units)
    mde_abs = mde_rel = None
    if available_units:
        n_c = available_units * w_c
        worst = min(config.split[t] for t in config.treatments) * available_units
        if proportion:

            def gap(d: float) -> float:
                z = _z(alpha, config.power)
                return z * math.sqrt(var_c / n_c + var_t(d) / worst) - d

            hi = (1.0 - value) if sign > 0 else value
            mde_abs = optimize.brentq(gap, 1e-12, hi) if hi > 0 and gap(hi) < 0 else None
        else:
            mde_abs = minimum_detectable_effect(
                var_c, var_c, n_c, worst, alpha=alpha, power=config.power
            )
        mde_rel = mde_abs / abs(value) if mde_abs is not None and value else None
    return PowerPlan(
        metric.name,
        alpha,
        config.power,
        method,
        baseline_value=value,
        baseline_variance=var,
        variance_reduction=1.0 - factor if metric.cuped else None,
        effect_absolute=delta,
        effect_relative=rel,
        n_per_variant=n_per,
        exact_per_variant=exact_per,
        total_units=total,
        duration_days=duration,
        mde_absolute=mde_abs,
        mde_relative=mde_rel,
    )


# ------------------------------------------------------------ declared baselines

#: Units of the population a declared baseline stands for: large enough that the sample
#: variance (n − 1 in the denominator) is the declared sd² to many digits.
DECLARED_UNITS = 1_000_000


def declared_moments(component: str, mean: float, sd: float) -> Moments:
    """Return the moments of a population with a declared per-unit mean and sd.

    >>> m = declared_moments("m.x", 0.25, 2.0)
    >>> round(m.mean("m.x"), 6), round(m.covariance("m.x", "m.x") or 0.0, 6)
    (0.25, 4.0)
    """
    n = DECLARED_UNITS
    return Moments(n, {component: mean * n},
                   {(component, component): (n - 1) * sd * sd + n * mean * mean})


def declared_power_spec(metric: MetricSpec) -> MetricSpec:
    """Return the metric as power sizes it from a declared baseline (mean and sd).

    A proportion keeps its binomial variances, p(1 − p) in control and p_t(1 − p_t) in
    treatment; a percentile is returned unchanged (power does not size it: a declared sd
    says nothing of a quantile estimate's variance); any other kind is sized as a mean of
    one component with the declared sd, without CUPED (no covariate was declared).
    """
    if metric.kind is MetricKind.QUANTILE:
        return metric
    kind = MetricKind.PROPORTION if metric.kind is MetricKind.PROPORTION else MetricKind.MEAN
    return MetricSpec(metric.name, kind, None, metric.role, metric.direction)
