"""Group-sequential boundaries against published tables, and by simulation.

Published values, two-sided α = 0.05, equally spaced looks:

* classical Pocock constants C_P(K) and O'Brien–Fleming C_B(K) (boundaries C_B·√(K/k)):
  Jennison & Turnbull (2000), Tables 2.1 and 2.3 (Pocock 1977; O'Brien & Fleming 1979);
* Lan–DeMets O'Brien–Fleming-type spending: DeMets & Lan (1994), Stat. Med. 13, and the
  same numbers from gsDesign (``sfLDOF``, symmetric, 0.025 per side) and ldbounds;
* Lan–DeMets Pocock-type spending, K = 5: ldbounds / gsDesign (``sfLDPocock``);
* maximum sample size over the fixed design, R(K), power 80 % and 90 %: Jennison & Turnbull
  (2000), Tables 2.2 and 2.4, checked to ±0.0015 (K = 5 Pocock at 80 % computes 1.2284,
  against 1.229 in the table as transcribed here; scipy's multivariate normal gives
  1.22837 too).

Boundaries are published to 3 decimals, which is the precision checked.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from metricspec.stats import (
    ExperimentConfig,
    ExperimentData,
    MetricSpec,
    Moments,
    Outcome,
    Role,
    VariantData,
    Verdict,
    analyze,
)
from metricspec.stats.group_sequential import (
    GroupSequentialDesign,
    Spending,
    boundaries,
    classical_boundaries,
    crossing_probabilities,
    inflation_of,
    spent,
)

POCOCK = {2: 2.178, 3: 2.289, 4: 2.361, 5: 2.413}
OBF_FINAL = {2: 1.977, 3: 2.004, 4: 2.024, 5: 2.040}
LD_OBF = {
    2: (2.963, 1.969),
    3: (3.710, 2.511, 1.993),
    4: (4.333, 2.963, 2.359, 2.014),
    5: (4.877, 3.357, 2.680, 2.290, 2.031),
}
LD_POCOCK_5 = (2.438, 2.427, 2.410, 2.397, 2.386)
R_POCOCK = {0.8: (1.110, 1.166, 1.202, 1.229), 0.9: (1.100, 1.151, 1.183, 1.207)}
R_OBF = {0.8: (1.008, 1.017, 1.024, 1.028), 0.9: (1.007, 1.016, 1.022, 1.026)}


def equal(k: int) -> list[float]:
    return [i / k for i in range(1, k + 1)]


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_classical_pocock_and_obrien_fleming(k: int) -> None:
    assert classical_boundaries(k, 0.05, Spending.POCOCK)[0] == pytest.approx(POCOCK[k], abs=5e-4)
    obf = classical_boundaries(k, 0.05, Spending.OBRIEN_FLEMING)
    assert obf[-1] == pytest.approx(OBF_FINAL[k], abs=5e-4)
    assert obf[0] == pytest.approx(obf[-1] * np.sqrt(k), rel=1e-12)


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_lan_demets_obrien_fleming_type(k: int) -> None:
    got = boundaries(equal(k), 0.05, Spending.OBRIEN_FLEMING)
    assert got == pytest.approx(LD_OBF[k], abs=5e-4)


def test_lan_demets_pocock_type() -> None:
    got = boundaries(equal(5), 0.05, Spending.POCOCK)
    assert got == pytest.approx(LD_POCOCK_5, abs=5e-4)


@pytest.mark.parametrize("spending", list(Spending))
@pytest.mark.parametrize("ts", [equal(3), [0.1, 0.25, 0.7, 1.0], [0.5, 1.0]])
def test_spent_alpha_is_exact_look_by_look(spending: Spending, ts: list[float]) -> None:
    b = boundaries(ts, 0.05, spending)
    cum = np.cumsum(crossing_probabilities(ts, b))
    want = [spent(t, 0.05, spending) for t in ts]
    assert cum == pytest.approx(want, rel=1e-9, abs=1e-14)
    assert cum[-1] == pytest.approx(0.05, rel=1e-9)


def test_crossing_probabilities_match_scipy_multivariate_normal() -> None:
    """An independent computation: the joint normal with Corr(Z_j, Z_k) = √(t_j/t_k)."""
    ts = [0.3, 0.6, 1.0]
    b = [2.6, 2.3, 2.1]
    cov = np.array([[np.sqrt(min(a, c) / max(a, c)) for c in ts] for a in ts])
    for drift in (0.0, 2.5):
        mean = drift * np.sqrt(ts)
        inside = stats.multivariate_normal(mean, cov).cdf(
            np.array(b), lower_limit=-np.array(b), rng=np.random.default_rng(0)
        )
        assert 1 - sum(crossing_probabilities(ts, b, drift)) == pytest.approx(inside, abs=2e-4)


@pytest.mark.parametrize("power", [0.8, 0.9])
@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_sample_size_inflation_matches_jennison_turnbull(power: float, k: int) -> None:
    for kind, table in ((Spending.POCOCK, R_POCOCK), (Spending.OBRIEN_FLEMING, R_OBF)):
        r = inflation_of(equal(k), classical_boundaries(k, 0.05, kind), 0.05, power)
        assert r == pytest.approx(table[power][k - 2], abs=1.5e-3), (kind, k)


def test_design_validation() -> None:
    with pytest.raises(ValueError):
        GroupSequentialDesign(0)
    with pytest.raises(ValueError):
        GroupSequentialDesign(3, fractions=(0.5, 0.4, 1.0))
    with pytest.raises(ValueError):
        GroupSequentialDesign(2, fractions=(0.5, 0.9))
    with pytest.raises(ValueError):
        ExperimentConfig(
            "c", {"c": 1, "t": 1}, sequential=True, group_sequential=GroupSequentialDesign(3)
        )
    with pytest.raises(ValueError):
        ExperimentConfig("c", {"c": 1, "t": 1}, group_sequential=GroupSequentialDesign(3), look=4)


def _welch_z(c: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Welch z per simulated experiment (rows) from unit-level columns."""
    se = np.sqrt(c.var(axis=1, ddof=1) / c.shape[1] + t.var(axis=1, ddof=1) / t.shape[1])
    return (t.mean(axis=1) - c.mean(axis=1)) / se


def _reject_rate(spending: Spending, looks: int, per_look: int, lift: float, seed: int) -> float:
    rng = np.random.default_rng(seed)
    sims = 3000
    design = GroupSequentialDesign(looks, spending)
    c = rng.lognormal(1.0, 0.7, (sims, looks * per_look))
    t = rng.lognormal(1.0, 0.7, (sims, looks * per_look)) * (1 + lift)
    rejected = np.zeros(sims, dtype=bool)
    for k in range(1, looks + 1):
        n = k * per_look
        b = design.at_look(k, 0.05).boundary
        rejected |= np.abs(_welch_z(c[:, :n], t[:, :n])) >= b
    return float(rejected.mean())


@pytest.mark.parametrize("spending", list(Spending))
def test_aa_false_positive_rate_with_five_looks(spending: Spending) -> None:
    rate = _reject_rate(spending, 5, 100, 0.0, seed=21)
    assert 0.04 <= rate <= 0.06, rate


@pytest.mark.parametrize("spending", list(Spending))
def test_power_of_the_inflated_sample_size(spending: Spending) -> None:
    """Plan 80 % power for a 10 % lift, inflate by R, and observe the power (±3 points)."""
    sd = np.sqrt((np.exp(0.49) - 1) * np.exp(2 + 0.49))
    mu = np.exp(1 + 0.49 / 2)
    var = sd**2 * (1 + 1.1**2)  # the treatment arm is scaled by 1.1, its sd too
    fixed = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2 * var / (0.1 * mu) ** 2
    design = GroupSequentialDesign(4, spending)
    r = inflation_of(equal(4), design.bounds(0.05), 0.05, 0.8)
    per_look = int(np.ceil(fixed * r / 4))
    rate = _reject_rate(spending, 4, per_look, 0.1, seed=22)
    assert abs(rate - 0.8) <= 0.03, (rate, per_look)


def _arm(mean: float, sd: float, n: int) -> Moments:
    s = mean * n
    return Moments(n, {"m.x": s}, {("m.x", "m.x"): s * s / n + (n - 1) * sd * sd})


@pytest.mark.parametrize(
    ("look", "mt", "verdict", "outcome"),
    [
        (1, 10.35, Verdict.FLAT, Outcome.INCONCLUSIVE),  # z ≈ 2.2 < 4.877: continue
        (5, 10.35, Verdict.WIN, Outcome.SHIP),  # z ≈ 2.2 ≥ 2.031, the final boundary
        (1, 10.9, Verdict.WIN, Outcome.SHIP),  # z ≈ 8 crosses even the first boundary
    ],
)
def test_engine_at_look_k(look: int, mt: float, verdict: Verdict, outcome: Outcome) -> None:
    cfg = ExperimentConfig(
        "control",
        {"control": 1, "treatment": 1},
        group_sequential=GroupSequentialDesign(5),
        look=look,
    )
    arms = {"control": _arm(10.0, 5.0, 2000), "treatment": _arm(mt, 5.0, 2000)}
    variants = {v: VariantData({"m": m}, units=m.n) for v, m in arms.items()}
    res = analyze(cfg, [MetricSpec("m", role=Role.PRIMARY)], ExperimentData.single(variants))
    r = res.metric("m")
    gs = res.settings["group_sequential"]
    assert gs["look"] == look
    assert gs["boundary"] == pytest.approx(LD_OBF[5][look - 1], abs=5e-4)
    z = r.absolute.estimate / r.absolute.se
    assert (abs(z) >= gs["boundary"]) == (r.verdict is Verdict.WIN)
    assert r.absolute.ci_upper - r.absolute.estimate == pytest.approx(
        gs["boundary"] * r.absolute.se, rel=1e-12
    )
    assert res.decision.outcome is outcome
    if look < 5:
        assert any("interim look" in x for x in res.decision.reasons)


def test_engine_infers_the_look_from_planned_units() -> None:
    cfg = ExperimentConfig(
        "control",
        {"control": 1, "treatment": 1},
        group_sequential=GroupSequentialDesign(4, Spending.POCOCK),
        planned_units=10_000,
    )
    arms = {"control": _arm(10.0, 5.0, 2400), "treatment": _arm(10.1, 5.0, 2600)}
    variants = {v: VariantData({"m": m}, units=m.n) for v, m in arms.items()}
    gs = analyze(cfg, [MetricSpec("m")], ExperimentData.single(variants)).settings[
        "group_sequential"
    ]
    assert gs["look"] == 2 and gs["fraction"] == pytest.approx(0.5)
    assert gs["boundary"] == pytest.approx(boundaries([0.25, 0.5], 0.05, Spending.POCOCK)[-1])
