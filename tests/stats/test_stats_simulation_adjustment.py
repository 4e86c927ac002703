"""A/A simulations of the new frequentist methods (issue 15): the rejection rate at α = 5%
of the regression adjustment (OLS HC1 and CUPED generalised, three covariates, skewed
heteroscedastic outcomes) and of the novelty trend test (units observed on several days,
with unit-level effects that make the days correlated). Fixed seeds: deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from metricspec.stats.novelty import DaySums, cohort_trend
from metricspec.stats.regression import cuped_adjust, ols_adjust, unit_sums

COVARIATES = ("a", "b", "c")


def _aa_arm(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.column_stack([rng.gamma(2.0, 2.0, n), rng.integers(0, 300, n),
                         rng.standard_normal(n)])
    y = 0.7 * x[:, 0] + 0.01 * x[:, 1] + rng.exponential(1.0 + 0.3 * x[:, 0])
    return y, x


@pytest.mark.slow
def test_regression_adjustment_keeps_its_size_under_aa() -> None:
    rng = np.random.default_rng(15)
    runs = 4000
    rejected = {"ols": 0, "cuped": 0}
    for _ in range(runs):
        control, treatment = (unit_sums(*_aa_arm(rng, 300), COVARIATES, order=4)
                              for _ in range(2))
        rejected["ols"] += ols_adjust(control, treatment, COVARIATES).p_value < 0.05
        rejected["cuped"] += cuped_adjust(control, treatment, COVARIATES).p_value < 0.05
    rates = {k: v / runs for k, v in rejected.items()}
    assert 0.04 <= rates["ols"] <= 0.06, rates
    assert 0.04 <= rates["cuped"] <= 0.06, rates


def _aa_cohort(rng: np.random.Generator, units: int = 400, horizon: int = 7):
    """A balanced cohort under A/A: each unit its own level, so its days are correlated;
    returns the cohort's daily sums and each arm's unit contributions (as the SQL does)."""
    c_d = (np.arange(horizon) - (horizon - 1) / 2)
    c_d = c_d / (c_d**2).sum()
    panels = [rng.poisson(rng.gamma(2.0, 1.0, (units, 1)) * np.ones(horizon)).astype(float)
              for _ in range(2)]
    days = [tuple(DaySums(units, float(p[:, d].sum()), 0.0) for p in panels)
            for d in range(horizon)]
    sums = []
    for p in panels:
        u = (p - p.mean(axis=0)) @ c_d
        sums.append(DaySums(units, float(u.sum()), float((u * u).sum())))
    return days, (sums[0], sums[1])


@pytest.mark.slow
def test_novelty_trend_test_keeps_its_size_under_aa() -> None:
    rng = np.random.default_rng(16)
    runs = 4000
    rejected = sum(cohort_trend(*_aa_cohort(rng), "mean", 0.05, None).flagged
                   for _ in range(runs))
    assert 0.04 <= rejected / runs <= 0.06, rejected / runs
