"""Seeded simulations: false-positive rates, peeking, and power of a planned design.

Sizes are chosen so the suite runs in seconds while the bounds stay several standard errors
wide (4,000 A/A experiments: SE of a 5 % rate ≈ 0.34 points). Larger runs are in
benchmarks/stats_simulation.py, with results recorded in docs/statistics.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from stats_simulate import (
    false_positive_rate,
    observed_power,
    peeking,
    peeking_engine_check,
    quantile_false_positive_rate,
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "n"), [("mean", 300), ("proportion", 1000), ("ratio", 300), ("cuped", 300)]
)
def test_aa_false_positive_rate_is_nominal(kind: str, n: int) -> None:
    rate = false_positive_rate(kind, sims=4000, n=n, seed=20240601)
    assert 0.04 <= rate <= 0.06, rate


def test_sequential_survives_peeking_where_naive_testing_fails() -> None:
    naive, sequential = peeking(sims=2000, looks=10, n_final=500, seed=11)
    assert naive > 0.05, naive  # repeated fixed-horizon tests inflate the error rate
    assert sequential <= 0.05, sequential


def test_peeking_simulation_uses_the_engines_numbers() -> None:
    fast, engine = peeking_engine_check(sims=40, n=300, seed=3)
    np.testing.assert_allclose(fast, engine, rtol=1e-10)


def test_planned_power_is_achieved() -> None:
    n, power = observed_power(sims=3000, seed=5)
    assert 200 < n < 300  # 5 % of a mean of 50 with sd 10
    assert abs(power - 0.80) <= 0.03, power


def test_clustered_quantile_keeps_nominal_rate_where_iid_does_not() -> None:
    # p90 over 5 events per unit with a shared unit effect: events are correlated
    clustered = quantile_false_positive_rate(sims=2000, seed=1)
    naive = quantile_false_positive_rate(sims=2000, seed=1, clustered=False)
    assert 0.03 <= clustered <= 0.07, clustered
    assert naive > 0.10, naive
