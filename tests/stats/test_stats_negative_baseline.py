"""Relative effects divide by |control|: with a negative baseline (profit, net change) a
relative change has the sign of the absolute one everywhere it is used — the lift and its
interval, guardrail margins, the decision, power and the report's forest plot.

The convention is gbstats' after growthbook/growthbook#6658 (`frequentist_diff` divides by
``abs(mean_a_unadjusted)``; the relative variance, a square, is unchanged). gbstats 0.8.0 on
PyPI still divides by the signed mean, so against it the lift differs only in sign.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from metricspec.stats import (
    Direction,
    ExperimentConfig,
    ExperimentData,
    GuardrailStatus,
    Margin,
    Mde,
    MetricKind,
    MetricSpec,
    Moments,
    Outcome,
    Role,
    VariantData,
    Verdict,
    analyze,
    plan_power,
)

TWO = ExperimentConfig("control", {"control": 1, "treatment": 1})


def arm(mean: float, sd: float, n: int, name: str = "m") -> Moments:
    """Moments of ``n`` units with exactly this mean and sample sd."""
    s = mean * n
    return Moments(n, {f"{name}.x": s}, {(f"{name}.x", f"{name}.x"): s * s / n + (n - 1) * sd * sd})


def data(arms: dict[str, dict[str, Moments]]) -> ExperimentData:
    return ExperimentData.single(
        {v: VariantData(m, units=next(iter(m.values())).n) for v, m in arms.items()}
    )


def hand_lift(mc: float, sc: float, nc: int, mt: float, st: float, nt: int) -> tuple[float, float]:
    """(mt − mc)/|mc| and gbstats' `variance_of_ratios` SE (independent arms)."""
    var = st**2 / nt / mc**2 + sc**2 / nc * mt**2 / mc**4
    return (mt - mc) / abs(mc), math.sqrt(var)


@pytest.mark.parametrize(
    ("mc", "mt"),
    [(-10.0, -15.0), (-10.0, -5.0), (-2.0, 3.0), (10.0, 15.0), (10.0, 5.0), (-0.5, -0.45)],
)
def test_lift_has_the_sign_of_the_difference(mc: float, mt: float) -> None:
    sc, st, nc, nt = 5.0, 6.0, 400, 450
    d = data({"control": {"m": arm(mc, sc, nc)}, "treatment": {"m": arm(mt, st, nt)}})
    r = analyze(TWO, [MetricSpec("m")], d).metric("m")
    lift, se = hand_lift(mc, sc, nc, mt, st, nt)
    assert r.relative.estimate == pytest.approx(lift, rel=1e-12)
    assert r.relative.se == pytest.approx(se, rel=1e-12)
    assert np.sign(r.relative.estimate) == np.sign(r.absolute.estimate)
    df = r.conventions.df
    q = stats.t.ppf(0.975, df)
    assert r.relative.ci_lower == pytest.approx(lift - q * se, rel=1e-10)
    assert r.relative.ci_upper == pytest.approx(lift + q * se, rel=1e-10)


def test_matches_gbstats_up_to_the_sign_convention() -> None:
    import gbstats.frequentist.tests as gb  # a test dependency (README), never skipped
    from gbstats.models.statistics import SampleMeanStatistic

    mc, sc, nc, mt, st, nt = -10.0, 5.0, 100, -15.0, 6.0, 120
    a = SampleMeanStatistic(n=nc, sum=mc * nc, sum_squares=(mc * nc) ** 2 / nc + (nc - 1) * sc**2)
    b = SampleMeanStatistic(n=nt, sum=mt * nt, sum_squares=(mt * nt) ** 2 / nt + (nt - 1) * st**2)
    ref = gb.TwoSidedTTest(a, b).compute_result()
    d = data({"control": {"m": arm(mc, sc, nc)}, "treatment": {"m": arm(mt, st, nt)}})
    r = analyze(TWO, [MetricSpec("m")], d).metric("m")
    # 0.8.0 divides by the signed control mean; current gbstats (and we) by its magnitude
    assert r.relative.estimate == pytest.approx(-ref.expected, rel=1e-10)
    assert r.relative.se == pytest.approx(ref.uplift.stddev, rel=1e-10)
    assert r.relative.ci_lower == pytest.approx(-ref.ci[1], rel=1e-8)
    assert r.relative.p_value == pytest.approx(ref.p_value, rel=1e-6)


def test_cuped_ratio_lift_with_negative_baseline_keeps_the_sign() -> None:
    rng = np.random.default_rng(5)
    arms = {}
    for v, shift in (("control", 0.0), ("treatment", -0.3)):
        pre = rng.normal(-2.0, 1.0, 3000)
        x = pre + rng.normal(shift, 0.5, 3000)
        y = 1.0 + rng.poisson(1.0, 3000)
        arms[v] = {
            "m": Moments.from_units({"m.x": x * y, "m.y": y, "m.c": pre * y, "m.d": y}),
        }
    spec = MetricSpec("m", MetricKind.RATIO, cuped={"m.x": "m.c", "m.y": "m.d"})
    r = analyze(TWO, [spec], data(arms)).metric("m")
    assert r.absolute.estimate < 0 and r.relative.estimate < 0
    base = r.control.unadjusted_value
    assert base < 0
    assert r.relative.estimate == pytest.approx(r.absolute.estimate / abs(base), rel=1e-12)


@pytest.mark.parametrize(
    ("mt", "status"),
    [
        (-15.0, GuardrailStatus.FAIL),  # −10 → −15: profit fell by 50 %
        (-9.0, GuardrailStatus.PASS),  # −10 → −9: profit rose by 10 %
    ],
)
def test_guardrail_margin_on_a_negative_baseline(mt: float, status: GuardrailStatus) -> None:
    spec = MetricSpec("profit", role=Role.GUARDRAIL, margin=Margin.max_decrease(0.10))
    d = data(
        {
            "control": {"profit": arm(-10.0, 2.0, 5000, "profit")},
            "treatment": {"profit": arm(mt, 2.0, 5000, "profit")},
        }
    )
    g = analyze(TWO, [spec], d).guardrails[0]
    assert g.status is status, g.reason
    assert np.sign(g.estimate) == np.sign(mt + 10.0)


def test_guardrail_max_increase_on_a_negative_baseline() -> None:
    # a cost booked as a negative number: −10 → −5 is a 50 % increase
    spec = MetricSpec("net", role=Role.GUARDRAIL, margin=Margin.max_increase(0.10))
    d = data(
        {
            "control": {"net": arm(-10.0, 2.0, 5000, "net")},
            "treatment": {"net": arm(-5.0, 2.0, 5000, "net")},
        }
    )
    assert analyze(TWO, [spec], d).guardrails[0].status is GuardrailStatus.FAIL


def test_ship_recommendation_prefers_the_larger_improvement() -> None:
    config = ExperimentConfig("control", {"control": 1, "a": 1, "b": 1})
    spec = MetricSpec("profit", role=Role.PRIMARY, direction=Direction.INCREASE)
    d = data(
        {
            "control": {"profit": arm(-10.0, 1.0, 4000, "profit")},
            "a": {"profit": arm(-9.0, 1.0, 4000, "profit")},  # +1
            "b": {"profit": arm(-5.0, 1.0, 4000, "profit")},  # +5: the better one
        }
    )
    result = analyze(config, [spec], d)
    assert result.metric("profit", "a").verdict is Verdict.WIN
    assert result.decision.outcome is Outcome.SHIP
    assert result.decision.recommended == "b"


def test_ship_recommendation_for_a_decrease_metric_with_negative_baseline() -> None:
    config = ExperimentConfig("control", {"control": 1, "a": 1, "b": 1})
    spec = MetricSpec("loss", role=Role.PRIMARY, direction=Direction.DECREASE)
    d = data(
        {
            "control": {"loss": arm(-10.0, 1.0, 4000, "loss")},
            "a": {"loss": arm(-10.5, 1.0, 4000, "loss")},
            "b": {"loss": arm(-12.0, 1.0, 4000, "loss")},  # the larger decrease
        }
    )
    result = analyze(config, [spec], d)
    assert result.decision.recommended == "b"


def test_power_relative_mde_uses_the_magnitude_of_the_baseline() -> None:
    config = ExperimentConfig("control", {"control": 1, "treatment": 1}, mde=Mde(0.05))
    neg = plan_power(MetricSpec("m"), arm(-20.0, 8.0, 10_000), config)
    pos = plan_power(MetricSpec("m"), arm(20.0, 8.0, 10_000), config)
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    hand = 2 * z**2 * 64.0 / (0.05 * 20.0) ** 2
    assert neg.exact_per_variant["control"] == pytest.approx(hand, rel=1e-10)
    assert neg.exact_per_variant == pos.exact_per_variant
    assert neg.effect_absolute == pytest.approx(1.0) and neg.effect_relative == pytest.approx(0.05)
    with_traffic = plan_power(
        MetricSpec("m"), arm(-20.0, 8.0, 10_000), config, available_units=20_000
    )
    assert with_traffic.mde_relative is not None and with_traffic.mde_relative > 0
