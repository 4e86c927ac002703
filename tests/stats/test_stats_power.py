"""Sample size, MDE and duration from baseline moments, cross-checked against statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower

from metricspec.stats import (
    Correction,
    ExperimentConfig,
    Mde,
    MetricKind,
    MetricSpec,
    Moments,
    minimum_detectable_effect,
    plan_power,
    sample_size_per_variant,
)
from metricspec.stats.power import family_size

CONFIG = ExperimentConfig("control", {"control": 1, "treatment": 1}, mde=Mde(0.05))
RNG = np.random.default_rng(12)
PRE = RNG.gamma(2.0, 10.0, 50_000)
POST = 0.9 * PRE + RNG.gamma(2.0, 4.0, 50_000)
SESSIONS = 1.0 + RNG.poisson(3.0, 50_000)
CLICKS = RNG.binomial(SESSIONS.astype(int), 0.3).astype(float)
BASE = Moments.from_units({"m.x": POST, "m.c": PRE, "r.x": CLICKS, "r.y": SESSIONS})


def test_mean_matches_normal_power_closed_form() -> None:
    plan = plan_power(MetricSpec("m"), BASE, CONFIG)
    sd = POST.std(ddof=1)
    effect = 0.05 * POST.mean() / sd
    n = NormalIndPower().solve_power(effect, alpha=0.05, power=0.8, ratio=1.0)
    # statsmodels also counts the far tail; the closed form ignores it (≈1e-5 relative)
    assert plan.exact_per_variant["control"] == pytest.approx(n, rel=1e-4)
    assert plan.total_units == 2 * plan.n_per_variant["control"]


def test_cuped_shrinks_by_one_minus_rho_squared() -> None:
    plain = plan_power(MetricSpec("m"), BASE, CONFIG)
    cuped = plan_power(MetricSpec("m", cuped={"m.x": "m.c"}), BASE, CONFIG)
    rho = np.corrcoef(POST, PRE)[0, 1]
    assert cuped.variance_reduction == pytest.approx(rho**2, rel=1e-10)
    ratio = cuped.exact_per_variant["control"] / plain.exact_per_variant["control"]
    assert ratio == pytest.approx(1 - rho**2, rel=1e-10)


def test_ratio_uses_the_delta_method_variance() -> None:
    plan = plan_power(MetricSpec("r", MetricKind.RATIO), BASE, CONFIG)
    mx, my = CLICKS.mean(), SESSIONS.mean()
    cov = np.cov(CLICKS, SESSIONS)
    g = np.array([1 / my, -mx / my**2])
    assert plan.baseline_variance == pytest.approx(g @ cov @ g, rel=1e-10)
    n_c, _ = sample_size_per_variant(g @ cov @ g, g @ cov @ g, 0.05 * mx / my)
    assert plan.exact_per_variant["control"] == pytest.approx(n_c, rel=1e-10)


def test_correction_splits_alpha_over_the_family() -> None:
    roles = ("primary", "secondary", "guardrail")  # strings are accepted and coerced
    specs = [MetricSpec(f"m{i}", role=r) for i, r in enumerate(roles)]  # type: ignore[arg-type]
    config = ExperimentConfig(
        "control", {"control": 1, "a": 1, "b": 1}, mde=Mde(0.05), correction=Correction.HOLM
    )
    m = family_size(specs, config)
    assert m == 4
    plan = plan_power(MetricSpec("m"), BASE, config, tests=m)
    assert plan.alpha_per_test == pytest.approx(0.0125)
    direct = sample_size_per_variant(
        plan.baseline_variance,
        plan.baseline_variance,
        plan.effect_absolute,
        alpha=0.0125,
        share_control=1 / 3,
        share_treatment=1 / 3,
    )
    assert plan.exact_per_variant["control"] == pytest.approx(direct[0], rel=1e-12)


def test_uneven_split_and_duration() -> None:
    config = ExperimentConfig("control", {"control": 0.8, "treatment": 0.2}, mde=Mde(0.05))
    plan = plan_power(MetricSpec("m"), BASE, config, daily_units=1000)
    n_c, n_t = plan.exact_per_variant["control"], plan.exact_per_variant["treatment"]
    assert n_c / n_t == pytest.approx(4.0)
    assert plan.duration_days == pytest.approx((n_c + n_t) / 1000)


def test_mde_inverts_sample_size() -> None:
    plan = plan_power(MetricSpec("m"), BASE, CONFIG)
    total = 2 * plan.exact_per_variant["control"]
    again = plan_power(MetricSpec("m"), BASE, CONFIG, available_units=total)
    assert again.mde_relative == pytest.approx(0.05, rel=1e-10)
    assert minimum_detectable_effect(4.0, 4.0, 100, 100) == pytest.approx(
        (1.959963984540054 + 0.8416212335729143) * np.sqrt(0.08)
    )


def test_proportion_mde_solves_with_treatment_variance() -> None:
    base = Moments(10_000, {"c.x": 1000.0}, {("c.x", "c.x"): 1000.0})
    spec = MetricSpec("c", MetricKind.PROPORTION)
    plan = plan_power(spec, base, CONFIG, mde=Mde(0.10))
    total = 2 * plan.exact_per_variant["control"]
    again = plan_power(spec, base, CONFIG, available_units=total)
    assert again.mde_relative == pytest.approx(0.10, rel=1e-8)


def test_unsupported_or_degenerate_baselines_give_reasons() -> None:
    q = MetricSpec("q", MetricKind.QUANTILE, quantile_level=0.9)
    assert "quantile" in plan_power(q, BASE, CONFIG).reason
    flat = Moments(10, {"m.x": 10.0}, {("m.x", "m.x"): 10.0})
    assert "zero" in plan_power(MetricSpec("m"), flat, CONFIG).reason
    assert plan_power(MetricSpec("m"), flat, CONFIG).to_dict()["n_per_variant"] == {}
