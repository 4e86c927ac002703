"""Bayesian readouts against gbstats' `EffectBayesianABTest` on the same sufficient statistics.

gbstats 0.8.0 is a test dependency (installed with ``--no-deps``, see README): imported, never
skipped. Its Bayesian model takes the frequentist estimate and its standard error as a
Gaussian likelihood, so it agrees with ours to 1e-8 wherever the standard errors coincide:
means, proportions and ratios on both scales, CUPED on the absolute scale. CUPED's relative
standard error is gbstats 0.8.0's "C" formula, not the "D" one we use (docs/statistics.md),
so there the posterior is checked against our own frequentist relative SE instead.
"""

from __future__ import annotations

import numpy as np
import pytest
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.models.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    compute_theta,
)
from scipy import stats
from stats_reference import Reference

from metricspec.stats import (
    BayesianPrior,
    BayesianSettings,
    Direction,
    ExperimentConfig,
    ExperimentData,
    MetricKind,
    MetricSpec,
    Moments,
    Outcome,
    Role,
    VariantData,
    Verdict,
    analyze,
)

REL = 1e-8
PRIORS = [
    BayesianPrior(),
    BayesianPrior(0.0, 0.3),
    BayesianPrior(0.05, 0.1),
    BayesianPrior(-0.1, 1.0),
]


def config(prior: BayesianPrior | None = None, **kw: float) -> ExperimentConfig:
    settings = BayesianSettings(prior or BayesianPrior(), **kw)
    return ExperimentConfig("control", {"control": 1, "treatment": 1}, bayesian=settings)


def run(arms: dict[str, Moments], spec: MetricSpec, cfg: ExperimentConfig):
    variants = {v: VariantData({spec.name: m}, units=m.n) for v, m in arms.items()}
    return analyze(cfg, [spec], ExperimentData.single(variants)).metric(spec.name)


def close(actual: float | None, expected: float) -> None:
    assert actual is not None
    assert actual == pytest.approx(expected, rel=REL, abs=1e-300), (actual, expected)


def gb_result(a, b, prior: BayesianPrior, difference: str, inverse: bool):
    gp = GaussianPrior(
        mean=prior.mean, variance=(prior.sd or 1.0) ** 2, proper=prior.sd is not None
    )
    cfg = EffectBayesianConfig(
        difference_type=difference, prior_effect=gp, inverse=inverse, alpha=0.05
    )
    return EffectBayesianABTest(a, b, cfg).compute_result()


def compare(post, ref) -> None:
    close(post.mean, ref.expected)
    close(post.sd, ref.uplift.stddev)
    close(post.ci_lower, ref.ci[0])
    close(post.ci_upper, ref.ci[1])
    close(post.chance_to_win, ref.chance_to_win)
    # gbstats: risk = [loss of keeping control, loss of shipping the treatment]
    close(post.risk_control, ref.risk[0])
    close(post.risk_treatment, ref.risk[1])


def _mean(x: np.ndarray) -> SampleMeanStatistic:
    return SampleMeanStatistic(n=x.size, sum=float(x.sum()), sum_squares=float(x @ x))


def _cases(kind: str, seed: int):
    rng = np.random.default_rng(seed)
    n = rng.integers(200, 3000, 2)
    lift = rng.normal(0.0, 0.05)
    arms, gbs = {}, []
    for i, v in enumerate(("control", "treatment")):
        k = int(n[i])
        if kind == "mean":
            x = rng.lognormal(1.0, 0.8, k) * (1 + lift * i)
            arms[v] = Moments.from_units({"m.x": x})
            gbs.append(_mean(x))
        elif kind == "proportion":
            x = (rng.random(k) < 0.2 * (1 + lift * i)).astype(float)
            arms[v] = Moments.from_units({"m.x": x})
            gbs.append(ProportionStatistic(n=k, sum=float(x.sum())))
        else:
            y = 1.0 + rng.poisson(3.0, k)
            x = rng.binomial(y.astype(int), 0.3 * (1 + lift * i)).astype(float)
            arms[v] = Moments.from_units({"m.x": x, "m.y": y})
            gbs.append(
                RatioStatistic(
                    n=k,
                    m_statistic=_mean(x),
                    d_statistic=_mean(y),
                    m_d_sum_of_products=float(x @ y),
                )
            )
    mk = {"mean": MetricKind.MEAN, "proportion": MetricKind.PROPORTION, "ratio": MetricKind.RATIO}
    return arms, gbs, mk[kind]


@pytest.mark.parametrize("kind", ["mean", "proportion", "ratio"])
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("prior", PRIORS, ids=str)
@pytest.mark.parametrize("direction", [Direction.INCREASE, Direction.DECREASE])
def test_matches_gbstats_effect_model(kind, seed, prior, direction) -> None:
    arms, (a, b), mk = _cases(kind, seed)
    r = run(arms, MetricSpec("m", kind=mk, direction=direction), config(prior))
    inverse = direction is Direction.DECREASE
    compare(r.bayesian.relative, gb_result(a, b, prior, "relative", inverse))
    compare(r.bayesian.absolute, gb_result(a, b, prior, "absolute", inverse))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("prior", PRIORS, ids=str)
def test_cuped_absolute_matches_gbstats(seed, prior) -> None:
    rng = np.random.default_rng(100 + seed)
    arms, gbs = {}, []
    for i, v in enumerate(("control", "treatment")):
        k = int(rng.integers(300, 2000))
        pre = rng.gamma(2.0, 5.0, k)
        y = pre * 0.9 + rng.normal(0.3 * i, 2.0, k)
        arms[v] = Moments.from_units({"m.x": y, "m.c": pre})
        gbs.append(
            RegressionAdjustedStatistic(
                n=k,
                post_statistic=_mean(y),
                pre_statistic=_mean(pre),
                post_pre_sum_of_products=float(y @ pre),
                theta=0.0,
            )
        )
    theta = compute_theta(*gbs)
    a, b = (
        RegressionAdjustedStatistic(
            n=s.n,
            post_statistic=s.post_statistic,
            pre_statistic=s.pre_statistic,
            post_pre_sum_of_products=s.post_pre_sum_of_products,
            theta=theta,
        )
        for s in gbs
    )
    r = run(arms, MetricSpec("m", cuped={"m.x": "m.c"}), config(prior))
    compare(r.bayesian.absolute, gb_result(a, b, prior, "absolute", False))
    # relative: our (gbstats D) SE, checked by hand against the conjugate formulas
    rel, est, se = r.bayesian.relative, r.relative.estimate, r.relative.se
    if prior.sd is None:
        close(rel.mean, est)
        close(rel.sd, se)
    else:
        prec = 1 / se**2 + 1 / prior.sd**2
        close(rel.mean, (est / se**2 + prior.mean / prior.sd**2) / prec)
        close(rel.sd, prec**-0.5)
    close(rel.chance_to_win, stats.norm.sf(0, rel.mean, rel.sd))


def test_reference_section_b(reference: Reference, moments) -> None:
    for label, spec, prior in (
        ("mean revenue relative, improper prior", MetricSpec("revenue"), BayesianPrior()),
        (
            "mean revenue relative, proper prior N(0, 0.3^2)",
            MetricSpec("revenue"),
            BayesianPrior(0.0, 0.3),
        ),
        (
            "conversion relative, improper prior",
            MetricSpec("conv", kind=MetricKind.PROPORTION),
            BayesianPrior(),
        ),
    ):
        variants = {arm: VariantData(moments=m, units=m["revenue"].n) for arm, m in moments.items()}
        res = analyze(config(prior), [spec], ExperimentData.single(variants)).metric(spec.name)
        ref = reference.values("C", "B", label)
        risk = reference.lists("C", "B", label)["risk"]
        post = res.bayesian.relative
        close(post.mean, ref["expected"])
        close(post.ci_lower, ref["ci_lo"])
        close(post.ci_upper, ref["ci_hi"])
        close(post.chance_to_win, ref["chance_to_win"])
        close(post.risk_control, risk[0])
        close(post.risk_treatment, risk[1])


def _arm(mean: float, sd: float, n: int) -> Moments:
    s = mean * n
    return Moments(n, {"m.x": s}, {("m.x", "m.x"): s * s / n + (n - 1) * sd * sd})


@pytest.mark.parametrize(
    ("mt", "direction", "verdict", "outcome"),
    [
        (10.6, Direction.INCREASE, Verdict.WIN, Outcome.SHIP),
        (9.4, Direction.INCREASE, Verdict.LOSS, Outcome.DONT_SHIP),
        (10.05, Direction.INCREASE, Verdict.FLAT, Outcome.INCONCLUSIVE),
        (9.4, Direction.DECREASE, Verdict.WIN, Outcome.SHIP),
        (10.6, Direction.NONE, Verdict.CHANGED, Outcome.INCONCLUSIVE),
    ],
)
def test_decision_rule_sets_verdict_and_decision(mt, direction, verdict, outcome) -> None:
    arms = {"control": _arm(10.0, 5.0, 2000), "treatment": _arm(mt, 5.0, 2000)}
    spec = MetricSpec("m", role=Role.PRIMARY, direction=direction)
    variants = {v: VariantData({"m": m}, units=m.n) for v, m in arms.items()}
    res = analyze(config(), [spec], ExperimentData.single(variants))
    assert res.metric("m").verdict is verdict
    assert res.decision.outcome is outcome
    assert "chance to win" in " ".join(res.decision.reasons) or verdict is Verdict.CHANGED
    assert "rule" in res.settings["bayesian"]


def test_risk_threshold_blocks_a_likely_but_costly_win() -> None:
    # chance to win ≈ 97 %, but the expected loss of shipping is above 0.01 % of control
    arms = {"control": _arm(100.0, 50.0, 300), "treatment": _arm(107.5, 50.0, 300)}
    spec = MetricSpec("m", role=Role.PRIMARY)
    r = run(arms, spec, config(max_risk=0.0001))
    assert r.bayesian.relative.chance_to_win > 0.95
    assert r.bayesian.relative.risk_treatment > 0.0001
    assert r.verdict is Verdict.FLAT
    assert run(arms, spec, config(max_risk=0.5)).verdict is Verdict.WIN


def test_metric_prior_overrides_the_experiment_prior() -> None:
    arms = {"control": _arm(10.0, 5.0, 500), "treatment": _arm(10.4, 5.0, 500)}
    own = run(arms, MetricSpec("m", prior=BayesianPrior(0.0, 0.01)), config())
    flat = run(arms, MetricSpec("m"), config())
    assert abs(own.bayesian.relative.mean) < abs(flat.bayesian.relative.mean) / 2
    assert own.bayesian.prior.startswith("Gaussian")


def test_no_bayesian_readout_unless_asked() -> None:
    arms = {"control": _arm(10.0, 5.0, 500), "treatment": _arm(10.4, 5.0, 500)}
    cfg = ExperimentConfig("control", {"control": 1, "treatment": 1})
    r = run(arms, MetricSpec("m"), cfg)
    assert r.bayesian is None
    assert "bayesian" not in r.to_dict() or r.to_dict()["bayesian"] is None


@pytest.mark.parametrize("bad", [{"chance_to_win": 0.4}, {"chance_to_win": 1.0}, {"max_risk": 0}])
def test_invalid_settings_raise(bad) -> None:
    with pytest.raises(ValueError):
        BayesianSettings(**bad)
    with pytest.raises(ValueError):
        BayesianPrior(0.0, -1.0)


def test_aa_false_win_rate_is_at_most_one_minus_the_threshold() -> None:
    """A/A: the flat-prior chance to win is Φ(z), so P(win) ≤ 1 − 0.95 (risk only lowers it)."""
    rng = np.random.default_rng(11)
    sims, n = 2000, 400
    wins = {0.5: 0, 0.002: 0}
    for _ in range(sims):
        arms = {
            v: Moments.from_units({"m.x": rng.lognormal(1.0, 0.5, n)})
            for v in ("control", "treatment")
        }
        for risk in wins:
            r = run(arms, MetricSpec("m", role=Role.PRIMARY), config(max_risk=risk))
            wins[risk] += r.verdict is Verdict.WIN
    rate_free, rate_risk = wins[0.5] / sims, wins[0.002] / sims
    se = (0.05 * 0.95 / sims) ** 0.5
    assert abs(rate_free - 0.05) < 3 * se, rate_free  # exactly 1 − threshold (one-sided z)
    assert rate_risk <= rate_free
