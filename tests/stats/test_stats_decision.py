"""Guardrail status rules, corrections over the family, multiple treatments, the decision."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from metricspec.stats import (
    Correction,
    Direction,
    ExperimentConfig,
    ExperimentData,
    GuardrailStatus,
    Margin,
    MetricKind,
    MetricSpec,
    Moments,
    Outcome,
    Role,
    SegmentData,
    VariantData,
    Verdict,
    analyze,
)
from metricspec.stats.guardrails import guardrail_test
from metricspec.stats.sequential import rho

LATENCY = MetricSpec("lat", role=Role.GUARDRAIL, direction=Direction.DECREASE, margin=Margin(0.10))


def gr(spec: MetricSpec, est: float, se: float, seq: tuple[float, float] | None = None):
    return guardrail_test(
        spec,
        treatment="t",
        segment="all",
        segment_value=None,
        estimate=est,
        se=se,
        df=np.inf,
        alpha=0.05,
        sequential=seq,
    )


@pytest.mark.parametrize(
    ("est", "se", "status"),
    [
        (0.02, 0.01, GuardrailStatus.PASS),  # bound 0.036 < 0.10
        (-0.05, 0.20, GuardrailStatus.INCONCLUSIVE),  # better, but too noisy to bound
        (0.08, 0.05, GuardrailStatus.INCONCLUSIVE),  # inside the margin, bound 0.16 is not
        (0.12, 0.01, GuardrailStatus.FAIL),  # estimate beyond the margin
        (0.11, 0.50, GuardrailStatus.FAIL),  # beyond the margin even if not significant
    ],
)
def test_guardrail_rule_max_increase(est: float, se: float, status: GuardrailStatus) -> None:
    g = gr(LATENCY, est, se)
    assert g.status is status, g.reason
    assert g.bound == pytest.approx(est + stats.norm.ppf(0.95) * se)
    assert g.p_value == pytest.approx(stats.norm.cdf((est - 0.10) / se))
    assert (g.p_value < 0.05) == (g.status is GuardrailStatus.PASS)


def test_guardrail_direction_comes_from_metric_or_margin() -> None:
    csat = MetricSpec(
        "csat", role=Role.GUARDRAIL, direction=Direction.INCREASE, margin=Margin(0.02)
    )
    assert csat.worse_direction is Direction.DECREASE
    assert gr(csat, -0.03, 0.005).status is GuardrailStatus.FAIL
    assert gr(csat, 0.00, 0.005).status is GuardrailStatus.PASS
    assert gr(csat, 0.00, 0.005).bound == pytest.approx(-stats.norm.ppf(0.95) * 0.005)
    neutral = MetricSpec(
        "cost",
        role=Role.GUARDRAIL,
        direction=Direction.NONE,
        margin=Margin.max_increase(0.005, relative=False),
    )
    assert neutral.worse_direction is Direction.INCREASE
    with pytest.raises(ValueError, match="max_increase"):
        MetricSpec("x", role=Role.GUARDRAIL, direction=Direction.NONE, margin=Margin(0.1))


def test_guardrail_without_margin_is_an_inferiority_check() -> None:
    spec = MetricSpec("lat", role=Role.GUARDRAIL, direction=Direction.DECREASE)
    assert gr(spec, 0.05, 0.01).status is GuardrailStatus.FAIL
    assert gr(spec, 0.005, 0.01).status is GuardrailStatus.PASS


def test_sequential_guardrail_p_value_matches_its_bound() -> None:
    rng = np.random.default_rng(1)
    r1 = rho(0.05, 5000, two_sided=False)
    for _ in range(200):
        est, se, n = rng.normal(0.05, 0.05), rng.uniform(0.005, 0.05), rng.uniform(100, 1e5)
        g = gr(LATENCY, est, se, (n, r1))
        if g.status is not GuardrailStatus.FAIL:
            assert (g.p_value < 0.05) == (g.status is GuardrailStatus.PASS)
            assert g.bound > est + stats.norm.ppf(0.95) * se  # wider than fixed-horizon


def _arm(rng: np.random.Generator, n: int, means: dict[str, float]) -> VariantData:
    moments = {m: Moments.from_units({f"{m}.x": rng.normal(mu, 1.0, n)}) for m, mu in means.items()}
    return VariantData(moments, units=n)


def _experiment(
    arms: dict[str, dict[str, float]],
    n: int = 2000,
    seed: int = 0,
    units: dict[str, int] | None = None,
) -> ExperimentData:
    rng = np.random.default_rng(seed)
    built = {}
    for name, means in arms.items():
        v = _arm(rng, n, means)
        built[name] = VariantData(v.moments, units=(units or {}).get(name, n))
    return ExperimentData.single(built)


PRIMARY = MetricSpec("conv", role=Role.PRIMARY)
GUARD = MetricSpec("lat", role=Role.GUARDRAIL, direction=Direction.DECREASE, margin=Margin(0.05))
TWO = ExperimentConfig("control", {"control": 1, "treatment": 1})


@pytest.mark.parametrize(
    ("treatment", "outcome"),
    [
        ({"conv": 10.3, "lat": 10.0}, Outcome.SHIP),
        ({"conv": 10.3, "lat": 11.0}, Outcome.DONT_SHIP),  # latency +10 % > 5 % margin
        ({"conv": 9.7, "lat": 10.0}, Outcome.DONT_SHIP),  # primary significantly worse
        ({"conv": 10.0, "lat": 10.0}, Outcome.INCONCLUSIVE),  # primary flat
    ],
)
def test_decision_rules(treatment: dict[str, float], outcome: Outcome) -> None:
    data = _experiment({"control": {"conv": 10.0, "lat": 10.0}, "treatment": treatment})
    result = analyze(TWO, [PRIMARY, GUARD], data)
    assert result.decision.outcome is outcome, result.decision.reasons
    assert result.decision.reasons
    assert (result.decision.recommended == "treatment") == (outcome is Outcome.SHIP)


def test_srm_makes_the_decision_invalid() -> None:
    data = _experiment(
        {"control": {"conv": 10.0, "lat": 10.0}, "treatment": {"conv": 10.3, "lat": 10.0}},
        units={"control": 2000, "treatment": 2300},
    )
    result = analyze(TWO, [PRIMARY, GUARD], data)
    assert result.srm.flagged
    assert result.decision.outcome is Outcome.INVALID
    assert "sample-ratio mismatch" in result.decision.reasons[0]
    assert result.decision.outcome.value == "invalid — do not trust results"


@pytest.mark.parametrize("method", [Correction.BONFERRONI, Correction.HOLM, Correction.BH])
def test_family_correction_over_metrics_and_treatments(method: Correction) -> None:
    config = ExperimentConfig("control", {"control": 1, "a": 1, "b": 1}, correction=method)
    specs = [
        MetricSpec("p1", role=Role.PRIMARY),
        MetricSpec("p2", role=Role.PRIMARY),
        MetricSpec("s1", role=Role.SECONDARY),
        MetricSpec("g1", role=Role.GUARDRAIL, margin=Margin(0.5)),
    ]
    means = {"p1": 10.0, "p2": 10.0, "s1": 10.0, "g1": 10.0}
    data = _experiment(
        {
            "control": means,
            "a": {"p1": 10.08, "p2": 10.05, "s1": 10.0, "g1": 10.0},
            "b": {"p1": 10.1, "p2": 9.99, "s1": 10.06, "g1": 10.0},
        },
        seed=3,
    )
    result = analyze(config, specs, data)
    family = [r for r in result.metrics if r.role != "guardrail"]
    assert len(family) == 6 and result.settings["family_size"] == 6
    label = {"bonferroni": "bonferroni", "holm": "holm", "bh": "fdr_bh"}[method.value]
    expected = multipletests([r.p_value for r in family], method=label)[1]
    np.testing.assert_allclose([r.adjusted_p_value for r in family], expected, rtol=1e-12)
    rejected = sum(r.significant for r in family)
    for r in family:
        if method is Correction.HOLM:  # the level each member was tested at: α·p/p̃
            level = 1 - 0.05 * min(max(r.p_value / r.adjusted_p_value, 1 / 6), 1)
        else:
            level = 1 - 0.05 * (max(rejected, 1) if method is Correction.BH else 1) / 6
        assert r.conventions.ci_level == pytest.approx(level)
    g = next(r for r in result.metrics if r.role == "guardrail")
    assert g.adjusted_p_value == g.p_value and g.conventions.ci_level == pytest.approx(0.95)
    for r in family:  # for every correction, an interval excludes 0 exactly when significant
        excludes = r.absolute.ci_lower > 0 or r.absolute.ci_upper < 0
        assert excludes == r.significant


def test_multiple_treatments_recommend_the_best() -> None:
    config = ExperimentConfig("control", {"control": 2, "a": 1, "b": 1})
    data = _experiment(
        {
            "control": {"conv": 10.0, "lat": 10.0},
            "a": {"conv": 10.2, "lat": 10.0},
            "b": {"conv": 10.4, "lat": 10.0},
        },
        units={"control": 4000, "a": 2000, "b": 2000},
    )
    result = analyze(config, [PRIMARY, GUARD], data)
    assert [d.outcome for d in result.decision.treatments] == [Outcome.SHIP, Outcome.SHIP]
    assert result.decision.recommended == "b"
    assert result.metric("conv", "a").verdict is Verdict.WIN


def test_segments_are_exploratory_and_ignored_by_the_decision() -> None:
    overall = _experiment(
        {"control": {"conv": 10.0, "lat": 10.0}, "treatment": {"conv": 10.0, "lat": 10.0}}
    )
    seg = _experiment(
        {"control": {"conv": 10.0, "lat": 10.0}, "treatment": {"conv": 11.0, "lat": 10.0}}, seed=9
    )
    data = ExperimentData(
        (overall.segments[0], SegmentData("channel", "chat", seg.segments[0].variants))
    )
    result = analyze(TWO, [PRIMARY, GUARD], data)
    seg_result = result.metric("conv", segment="channel", segment_value="chat")
    assert seg_result.exploratory and seg_result.verdict is Verdict.WIN
    assert result.decision.outcome is Outcome.INCONCLUSIVE


def test_direction_none_gives_changed() -> None:
    spec = MetricSpec("conv", role=Role.SECONDARY, direction=Direction.NONE)
    data = _experiment({"control": {"conv": 10.0}, "treatment": {"conv": 10.5}})
    assert analyze(TWO, [spec], data).metric("conv").verdict is Verdict.CHANGED


def test_invalid_specs_raise() -> None:
    with pytest.raises(ValueError, match="twice"):
        analyze(TWO, [PRIMARY, PRIMARY], _experiment({"control": {}, "treatment": {}}))
    with pytest.raises(ValueError, match="control"):
        ExperimentConfig("c", {"a": 1, "b": 1})
    with pytest.raises(ValueError, match="formula"):
        MetricSpec("d", MetricKind.DERIVED)
    with pytest.raises(ValueError, match="quantile_level"):
        MetricSpec("q", MetricKind.QUANTILE)


def test_describe_states_conventions_before_data() -> None:
    from metricspec.stats import describe

    holm = ExperimentConfig("control", {"control": 1, "treatment": 1}, correction="holm")
    prop = describe(MetricSpec("c", MetricKind.PROPORTION, role=Role.PRIMARY), holm)
    assert (prop.test, prop.df, prop.correction, prop.ci_level) == ("z", None, "holm", 0.95)
    assert "wald" in prop.matches
    guard = describe(GUARD, holm)
    assert guard.correction == "none"
    seq = ExperimentConfig("control", {"control": 1, "treatment": 1}, sequential=True)
    ratio = describe(MetricSpec("r", MetricKind.RATIO), seq)
    assert ratio.test == "always_valid_z" and "N* = 5000" in ratio.interval
    cuped = describe(MetricSpec("m", cuped={"m.x": "m.c"}), TWO)
    assert cuped.test == "welch_t" and "CUPED" in cuped.variance and "ref. 4" in cuped.matches


def test_decision_without_overall_segment_says_so() -> None:
    seg = _experiment({"control": {"conv": 10.0}, "treatment": {"conv": 10.5}})
    data = ExperimentData((SegmentData("channel", "chat", seg.segments[0].variants),))
    result = analyze(TWO, [PRIMARY], data)
    assert result.decision.outcome is Outcome.CANNOT_ANALYSE  # no overall result: no verdict
    assert any("no overall" in r for r in result.decision.reasons)
    assert result.metric("conv", segment="channel", segment_value="chat").verdict is Verdict.WIN
    assert analyze(TWO, [], seg).decision.treatments[0].outcome is not Outcome.SHIP


def test_specs_and_configs_are_hashable_values() -> None:
    a = MetricSpec("m", cuped={"m.x": "m.c"})
    b = MetricSpec("m", cuped={"m.x": "m.c"})
    assert a == b and hash(a) == hash(b) and len({a, b, PRIMARY}) == 2
    assert hash(TWO) == hash(ExperimentConfig("control", {"control": 1, "treatment": 1}))
