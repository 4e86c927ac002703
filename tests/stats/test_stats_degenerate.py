"""Degenerate data give explicit "insufficient data" results with reasons, never NaN/inf."""

from __future__ import annotations

import json

import numpy as np
import pytest

from metricspec.stats import (
    Component,
    Direction,
    ExperimentConfig,
    ExperimentData,
    Margin,
    MetricKind,
    MetricSpec,
    Moments,
    QuantileMoments,
    Role,
    VariantData,
    Verdict,
    analyze,
)

CONFIG = ExperimentConfig(control="control", variants={"control": 1, "treatment": 1})


def result_for(spec: MetricSpec, control: VariantData, treatment: VariantData):
    data = ExperimentData.single({"control": control, "treatment": treatment})
    result = analyze(CONFIG, [spec], data)
    json.dumps(result.to_dict(), allow_nan=False)  # always serialisable, never NaN
    return result.metric(spec.name)


def vd(**columns: list[float]) -> VariantData:
    return VariantData({"m": Moments.from_units(columns)}, units=len(next(iter(columns.values()))))


GOOD = vd(**{"m.x": [1.0, 2.0, 3.0, 4.0]})


@pytest.mark.parametrize(
    ("control", "treatment", "reason"),
    [
        (GOOD, VariantData({"m": Moments(0, {"m.x": 0.0}, {("m.x", "m.x"): 0.0})}), "fewer than 2"),
        (GOOD, vd(**{"m.x": [3.0]}), "fewer than 2 units (n=1)"),
        (vd(**{"m.x": [2.0, 2.0]}), vd(**{"m.x": [5.0, 5.0]}), "zero variance in both arms"),
        (vd(**{"m.x": [0.0, 0.0, 0.0]}), GOOD, "control value is zero"),
        (GOOD, VariantData({}), "no statistics for m"),
        (GOOD, VariantData({"m": Moments(4, {"m.x": 10.0}, {})}), "missing sum of products"),
        (GOOD, VariantData({"m": Moments(4, {}, {})}), "missing sums for m.x"),
    ],
)
def test_mean_degenerate(control: VariantData, treatment: VariantData, reason: str) -> None:
    r = result_for(MetricSpec("m"), control, treatment)
    assert r.verdict is Verdict.INSUFFICIENT
    assert r.reason is not None and reason in r.reason
    assert r.absolute is None and r.p_value is None and not r.significant


def test_missing_variant() -> None:
    data = ExperimentData.single({"control": GOOD})
    r = analyze(CONFIG, [MetricSpec("m")], data).metric("m")
    assert r.verdict is Verdict.INSUFFICIENT and "no data for variant 'treatment'" in r.reason


def test_ratio_with_zero_denominator() -> None:
    zero = vd(**{"m.x": [0.0, 0.0], "m.y": [0.0, 0.0]})
    good = vd(**{"m.x": [1.0, 2.0], "m.y": [2.0, 3.0]})
    r = result_for(MetricSpec("m", MetricKind.RATIO), zero, good)
    assert "denominator mean is zero" in r.reason


def test_proportion_zero_control_and_out_of_range() -> None:
    zero = vd(**{"m.x": [0.0, 0.0, 0.0]})
    some = vd(**{"m.x": [0.0, 1.0, 1.0]})
    r = result_for(MetricSpec("m", MetricKind.PROPORTION), zero, some)
    assert r.verdict is Verdict.INSUFFICIENT and "zero" in r.reason
    bad = VariantData({"m": Moments(2, {"m.x": 5.0}, {("m.x", "m.x"): 13.0})})
    r = result_for(MetricSpec("m", MetricKind.PROPORTION), some, bad)
    assert "outside [0, 1]" in r.reason


def test_cuped_with_constant_covariate_equals_unadjusted() -> None:
    rng = np.random.default_rng(0)
    arms = [vd(**{"m.x": list(rng.normal(10, 2, 50)), "m.c": [1.0] * 50}) for _ in range(2)]
    plain = result_for(MetricSpec("m"), *arms)
    cuped = result_for(MetricSpec("m", cuped={"m.x": "m.c"}), *arms)
    assert cuped.cuped.theta == 0.0 and cuped.cuped.variance_reduction == 0.0
    assert cuped.absolute.estimate == pytest.approx(plain.absolute.estimate, rel=1e-12)
    assert cuped.absolute.se == pytest.approx(plain.absolute.se, rel=1e-12)


def test_cuped_missing_covariate_products() -> None:
    m = VariantData({"m": Moments(3, {"m.x": 3.0, "m.c": 2.0}, {("m.x", "m.x"): 5.0})})
    r = result_for(MetricSpec("m", cuped={"m.x": "m.c"}), m, m)
    assert r.verdict is Verdict.INSUFFICIENT and "m.c" in r.reason


def test_derived_with_unit_count_mismatch_or_missing_cross() -> None:
    formula = Component("a.x") + Component("b.x")
    spec = MetricSpec("d", MetricKind.DERIVED, formula=formula)
    a = Moments.from_units({"a.x": [1.0, 2.0, 3.0]})
    b = Moments.from_units({"b.x": [1.0, 2.0]})
    arm = VariantData({"a": a, "b": b})
    data = ExperimentData.single({"control": arm, "treatment": arm})
    r = analyze(CONFIG, [spec], data).metric("d")
    assert "unit counts differ" in r.reason
    b3 = Moments.from_units({"b.x": [1.0, 2.0, 2.0]})
    arm = VariantData({"a": a, "b": b3})
    r = analyze(CONFIG, [spec], ExperimentData.single({"control": arm, "treatment": arm}))
    assert "missing sum of products a.x·b.x" in r.metric("d").reason


def test_quantile_degenerate() -> None:
    spec = MetricSpec("q", MetricKind.QUANTILE, quantile_level=0.95)
    ok = QuantileMoments(500, 10.0, 9.0, 11.0, 400, 500.0)
    few = QuantileMoments(20, 10.0, 9.0, 11.0, 100, 20.0)
    flat = QuantileMoments(500, 10.0, 10.0, 10.0, 400, 500.0)
    clustered = QuantileMoments(500, 10.0, 9.0, 11.0, 400, 900.0)
    for bad, why in (
        (few, "too few events"),
        (flat, "variance is zero"),
        (clustered, "clustered quantile needs"),
    ):
        data = ExperimentData.single(
            {
                "control": VariantData(quantiles={"q": ok}),
                "treatment": VariantData(quantiles={"q": bad}),
            }
        )
        r = analyze(CONFIG, [spec], data).metric("q")
        assert r.verdict is Verdict.INSUFFICIENT and why in r.reason, r.reason


def test_huge_values_do_not_overflow_into_results() -> None:
    big = VariantData({"m": Moments(3, {"m.x": 1e300}, {("m.x", "m.x"): 1e308})})
    r = result_for(MetricSpec("m"), big, big)
    assert r.verdict is Verdict.INSUFFICIENT


def test_insufficient_guardrail_and_decision() -> None:
    spec = MetricSpec("m", role=Role.GUARDRAIL, direction=Direction.DECREASE, margin=Margin(0.1))
    data = ExperimentData.single({"control": GOOD, "treatment": VariantData({})})
    result = analyze(CONFIG, [spec, MetricSpec("p", role=Role.PRIMARY)], data)
    assert result.guardrails[0].status.value == "insufficient data"
    assert result.decision.outcome.value == "inconclusive"
    assert any("insufficient" in r for r in result.decision.reasons)


def test_srm_without_unit_counts_is_reported_not_flagged() -> None:
    data = ExperimentData.single({"control": VariantData({}), "treatment": VariantData({})})
    result = analyze(CONFIG, [MetricSpec("m", role=Role.PRIMARY)], data)
    assert not result.srm.flagged and "__units__" in result.srm.reason
    assert any("sample-ratio check not run" in r for r in result.decision.reasons)
    assert next(iter(result.to_dict())) == "experiment"
    assert list(result.to_dict())[1] == "srm"


def test_quantile_metric_can_read_another_metrics_statistics() -> None:
    ok = QuantileMoments(500, 10.0, 9.0, 11.0, 400, 500.0)
    arm = VariantData(quantiles={"latency_p95": ok})
    data = ExperimentData.single({"control": arm, "treatment": arm})
    alias = MetricSpec("p95_guard", MetricKind.QUANTILE, quantile_level=0.95, source="latency_p95")
    missing = MetricSpec("other", MetricKind.QUANTILE, quantile_level=0.95)
    result = analyze(CONFIG, [alias, missing], data)
    guard = result.metric("p95_guard")
    assert guard.reason is None and guard.absolute.estimate == 0.0
    assert "no quantile statistics for other" in result.metric("other").reason
