"""Seeded simulations of the analysis designs: Bayesian rule, group-sequential looks,
post-stratification, sequential power (the unit suite runs smaller ones). Results are
recorded in docs/statistics.md.

    python benchmarks/designs_simulation.py
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from metricspec.stats.bayesian import BayesianPrior, BayesianSettings, bayes_verdict, readout  # noqa: E402
from metricspec.stats.group_sequential import (  # noqa: E402
    GroupSequentialDesign,
    Spending,
)
from metricspec.stats.poststrat import Arm, PostStratified, stratified_effect  # noqa: E402
from metricspec.stats.power_sequential import cs_inflation, design_inflation  # noqa: E402
from metricspec.stats.sequential import cs_halfwidth, rho  # noqa: E402


def _welch(c: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_c, n_t = c.shape[1], t.shape[1]
    se = np.sqrt(c.var(axis=1, ddof=1) / n_c + t.var(axis=1, ddof=1) / n_t)
    return t.mean(axis=1) - c.mean(axis=1), se


def bayes_aa(sims: int, n: int, max_risk: float, prior: BayesianPrior, seed: int) -> float:
    """Share of A/A experiments the Bayesian rule calls a win."""
    rng = np.random.default_rng(seed)
    settings = BayesianSettings(prior, 0.95, max_risk)
    c = rng.lognormal(1.0, 0.5, (sims, n))
    t = rng.lognormal(1.0, 0.5, (sims, n))
    diff, se = _welch(c, t)
    mc = c.mean(axis=1)
    lift = diff / mc
    lse = np.sqrt(
        t.var(axis=1, ddof=1) / n / mc**2 + c.var(axis=1, ddof=1) / n * t.mean(axis=1) ** 2 / mc**4
    )
    wins = 0
    for i in range(sims):
        r = readout((diff[i], se[i], lift[i], lse[i]), mc[i], prior, 0.05, False)
        wins += bayes_verdict(r, settings, True) == "win"
    return wins / sims


def gs_rate(
    spending: Spending, looks: int, per_look: int, lift: float, sims: int, seed: int
) -> float:
    rng = np.random.default_rng(seed)
    design = GroupSequentialDesign(looks, spending)
    c = rng.lognormal(1.0, 0.7, (sims, looks * per_look))
    t = rng.lognormal(1.0, 0.7, (sims, looks * per_look)) * (1 + lift)
    rejected = np.zeros(sims, dtype=bool)
    for k in range(1, looks + 1):
        diff, se = _welch(c[:, : k * per_look], t[:, : k * per_look])
        rejected |= np.abs(diff / se) >= design.at_look(k, 0.05).boundary
    return float(rejected.mean())


def gs_power(spending: Spending, looks: int, sims: int, seed: int) -> tuple[int, float]:
    s2 = (math.exp(0.49) - 1) * math.exp(2 + 0.49)
    mu = math.exp(1 + 0.49 / 2)
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    fixed = z**2 * s2 * (1 + 1.1**2) / (0.1 * mu) ** 2
    r = design_inflation(GroupSequentialDesign(looks, spending), 0.05, 0.8)
    per_look = math.ceil(fixed * r / looks)
    return per_look * looks, gs_rate(spending, looks, per_look, 0.1, sims, seed)


def cs_power(sims: int, tuning: float, seed: int) -> tuple[int, float, float]:
    rng = np.random.default_rng(seed)
    delta, z = 0.25, stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    fixed = z**2 * 2 / delta**2
    factor = cs_inflation(2 * fixed, 0.05, 0.8, nominal_alpha=0.05, tuning=tuning)
    n = math.ceil(fixed * factor)
    c, t = rng.normal(0, 1, (sims, n)), rng.normal(delta, 1, (sims, n))
    diff, se = _welch(c, t)
    half = cs_halfwidth(se, np.full(sims, 2.0 * n), 0.05, rho(0.05, tuning))
    return n, factor, float(np.mean(np.abs(diff) > half))


def poststrat_aa(sims: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    share, level = np.array([0.5, 0.3, 0.2]), np.array([1.0, 4.0, 7.0])
    rejections, ratios = 0, []
    for _ in range(sims):
        arms = []
        for _arm in range(2):
            k = rng.multinomial(300, share)
            arms.append(
                [
                    Arm(kk, float(x.sum()), float(x @ x))
                    for kk, mu in zip(k, level, strict=True)
                    for x in [rng.normal(mu, 1.0, kk)]
                ]
            )
        r = stratified_effect(list(zip(arms[0], arms[1], strict=True)))
        assert isinstance(r, PostStratified)
        rejections += abs(r.diff / r.se) > stats.norm.ppf(0.975)
        pooled = [sum(a[1:], a[0]) for a in arms]
        ratios.append(r.se**2 / (pooled[0].var / pooled[0].n + pooled[1].var / pooled[1].n))
    return rejections / sims, float(np.median(ratios))


def main() -> None:
    """Run and print every simulation."""
    sims = 20_000
    se = 1.96 * math.sqrt(0.05 * 0.95 / sims)
    print(f"Bayesian rule (chance to win ≥ 95 %), A/A, n/arm = 500, {sims:,} experiments")
    for label, risk, prior in (
        ("flat prior, risk < 100 %", 1.0, BayesianPrior()),
        ("flat prior, risk < 1 %", 0.01, BayesianPrior()),
        ("flat prior, risk < 0.1 %", 0.001, BayesianPrior()),
        ("N(0, 0.1²) prior, risk < 1 %", 0.01, BayesianPrior(0.0, 0.1)),
    ):
        print(
            f"  {label:<30} false win rate = {bayes_aa(sims, 500, risk, prior, 7):.4f} (± {se:.4f})"
        )
    sims = 10_000
    print(f"Group-sequential A/A, Welch z at each look ({sims:,} experiments, 100 units/arm/look)")
    for spending in Spending:
        for looks in (2, 5, 10):
            rate = gs_rate(spending, looks, 100, 0.0, sims, 11 + looks)
            print(f"  {spending.value:<15} K={looks:<3} FPR = {rate:.4f}")
    print(f"Group-sequential power, planned 80 % for a 10 % lift, K = 4 ({sims:,} experiments)")
    for spending in Spending:
        n, rate = gs_power(spending, 4, sims, 23)
        print(f"  {spending.value:<15} max n/arm = {n}, observed power = {rate:.4f}")
    print(f"Confidence-sequence power at the planned end, planned 80 % ({sims:,} experiments)")
    for tuning in (1_000.0, 10_000.0):
        n, factor, rate = cs_power(sims, tuning, 29)
        print(f"  N* = {tuning:,.0f}: inflation {factor:.3f}, n/arm = {n}, power = {rate:.4f}")
    rate, ratio = poststrat_aa(5_000, 31)
    print("Post-stratification A/A, 3 strata (means 1, 4, 7), 300 units/arm (5,000 experiments)")
    print(f"  FPR = {rate:.4f}; median variance ratio post-stratified/unstratified = {ratio:.3f}")


if __name__ == "__main__":
    main()
