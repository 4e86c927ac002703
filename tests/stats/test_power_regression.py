"""Power for the multi-covariate adjustment: R² from one population's sums equals
statsmodels' OLS R²; the adjusted sample n·(1 − R²)·(1 + p/(N − p − 3)) solves its own
equation; and a seeded simulation of experiments sized that way, analysed with the
adjustment, reaches the target power within ±3 points (while the unadjusted test on the
same sample does not)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from metricspec.stats.power import sample_size_per_variant
from metricspec.stats.power_regression import adjusted_sample, explained, slope_inflation
from metricspec.stats.regression import cuped_adjust, ols_adjust, unit_sums

NAMES = ("pre(m)", "unit.c")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_r_squared_equals_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 500
    x = np.column_stack([rng.poisson(3.0, n), rng.gamma(2.0, 5.0, n)]).astype(float)
    y = 2.0 + 0.7 * x[:, 0] - 0.05 * x[:, 1] + rng.normal(0, 1.5, n)
    found = explained(unit_sums(y, x, NAMES), NAMES)
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    assert found.units == n and found.constant == ()
    assert found.r_squared == pytest.approx(fit.rsquared, rel=1e-8)
    one = explained(unit_sums(y, x[:, :1], NAMES[:1]), NAMES[:1])
    assert one.r_squared == pytest.approx(np.corrcoef(y, x[:, 0])[0, 1] ** 2, rel=1e-8)


def test_constant_covariates_and_degenerate_history_are_reported() -> None:
    rng = np.random.default_rng(7)
    y = rng.normal(size=200)
    x = np.column_stack([y + rng.normal(size=200), np.zeros(200)])
    found = explained(unit_sums(y, x, NAMES), NAMES)
    assert found.constant == ("unit.c",)
    fit = sm.OLS(y, sm.add_constant(x[:, :1])).fit()
    assert found.r_squared == pytest.approx(fit.rsquared, rel=1e-8)
    flat = explained(unit_sums(np.ones(50), x[:50], NAMES), NAMES)
    assert flat.r_squared is None and "no variance" in flat.reason
    tiny = explained(unit_sums(y[:3], x[:3], NAMES), NAMES)
    assert tiny.r_squared is None and "insufficient data" in tiny.reason


@pytest.mark.parametrize(("n", "r2", "p"), [(100.0, 0.3, 1), (40.0, 0.6, 4), (5e4, 0.5, 3)])
def test_adjusted_sample_solves_its_equation(n: float, r2: float, p: int) -> None:
    per, factor = adjusted_sample({"c": n, "t": n}, r2, p)
    total = sum(per.values())
    assert total == pytest.approx(2 * n * (1 - r2) * slope_inflation(total, p), rel=1e-12)
    assert factor == pytest.approx(total / (2 * n), rel=1e-12)
    assert factor > 1 - r2


def test_simulated_power_of_the_adjusted_sample_is_on_target() -> None:
    """History: 20,000 units of y = 1 + 0.8·x₁ + 0.5·x₂ + e. The plan sizes a 2-arm test
    for δ from history's variance and R², as `metricspec plan` does; each of 2,000 seeded
    experiments of that size, with effect δ, is analysed with the adjustment (OLS HC1 and
    CUPED generalised, from sums) and rejects at α = 0.05."""
    rng = np.random.default_rng(20261205)
    beta = np.array([0.8, 0.5])

    def draw(k: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.column_stack([rng.normal(2.0, 1.0, k), rng.exponential(1.0, k)])
        return 1.0 + x @ beta + rng.normal(0.0, 0.9, k), x

    y_hist, x_hist = draw(20_000)
    history = explained(unit_sums(y_hist, x_hist, NAMES), NAMES)
    assert history.r_squared is not None
    delta, alpha, target = 0.25, 0.05, 0.8
    var = float(np.var(y_hist, ddof=1))
    exact = sample_size_per_variant(var, var, delta, alpha=alpha, power=target)
    per, _ = adjusted_sample({"c": exact[0], "t": exact[1]}, history.r_squared, 2)
    n = math.ceil(per["c"])
    assert n < 0.6 * exact[0]  # the adjustment matters
    reps = 2000
    hits = {"ols": 0, "cuped": 0, "unadjusted": 0}
    for _ in range(reps):
        yc, xc = draw(n)
        yt, xt = draw(n)
        yt = yt + delta
        c, t = unit_sums(yc, xc, NAMES, 4), unit_sums(yt, xt, NAMES, 4)
        hits["ols"] += ols_adjust(c, t, NAMES, alpha).p_value < alpha  # type: ignore[operator]
        hits["cuped"] += cuped_adjust(c, t, NAMES, alpha).p_value < alpha  # type: ignore[operator]
        se = math.sqrt(np.var(yc, ddof=1) / n + np.var(yt, ddof=1) / n)
        hits["unadjusted"] += abs(yt.mean() - yc.mean()) / se > 1.959964
    power = {k: v / reps for k, v in hits.items()}
    assert abs(power["ols"] - target) <= 0.03, power
    assert abs(power["cuped"] - target) <= 0.03, power
    assert power["unadjusted"] < target - 0.15, power
