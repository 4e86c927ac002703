"""Sample sizes for sequential designs: the planned power is what a simulation observes.

Confidence sequences: the plan inflates the fixed-horizon sample so the sequence excludes 0
at the planned end with the target power (`power_sequential.cs_inflation`); simulated
experiments of that size, analysed with the engine's own sequence (`sequential.py`), reject
at that rate within ±3 points. Group-sequential designs are simulated in
test_stats_group_sequential.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from metricspec.stats.group_sequential import GroupSequentialDesign, Spending, inflation
from metricspec.stats.power_sequential import cs_boundary, cs_inflation, design_inflation
from metricspec.stats.sequential import cs_halfwidth, rho


def test_cs_boundary_is_the_engine_half_width_in_se_units() -> None:
    r = rho(0.05, 5000)
    for n in (100.0, 5000.0, 80_000.0):
        se = np.array([0.37])
        half = cs_halfwidth(se, np.array([n]), 0.05, r)[0]
        assert cs_boundary(n, 0.05, r) == pytest.approx(half / se[0], rel=1e-12)
        assert cs_boundary(n, 0.05, r) > stats.norm.ppf(0.975)


@pytest.mark.parametrize(
    ("alpha", "tuning", "seed"), [(0.05, 2000.0, 1), (0.025, 1000.0, 2), (0.05, 20_000.0, 3)]
)
def test_confidence_sequence_power_by_simulation(alpha: float, tuning: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sigma, delta, power = 1.0, 0.25, 0.8
    za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    per_arm_fixed = (za + zb) ** 2 * 2 * sigma**2 / delta**2
    factor = cs_inflation(2 * per_arm_fixed, alpha, power, nominal_alpha=0.05, tuning=tuning)
    n = int(np.ceil(per_arm_fixed * factor))
    sims = 3000
    c = rng.normal(0.0, sigma, (sims, n))
    t = rng.normal(delta, sigma, (sims, n))
    diff = t.mean(axis=1) - c.mean(axis=1)
    se = np.sqrt(c.var(axis=1, ddof=1) / n + t.var(axis=1, ddof=1) / n)
    half = cs_halfwidth(se, np.full(sims, 2.0 * n), alpha, rho(0.05, tuning))
    observed = float(np.mean(np.abs(diff) > half))
    assert abs(observed - power) <= 0.03, (observed, n, factor)


def test_design_inflation_is_the_group_sequential_one() -> None:
    d = GroupSequentialDesign(4, Spending.POCOCK)
    assert design_inflation(d, 0.05, 0.9) == inflation(d.planned, 0.05, 0.9, Spending.POCOCK)
    # one look is the fixed design; it differs only by the far rejection tail (≈ 2e-6)
    assert design_inflation(GroupSequentialDesign(1), 0.05, 0.8) == pytest.approx(1.0, abs=1e-5)
