"""`plan` with declared baselines sizes each metric kind by its own variance, checked against
independent computations: a proportion by p(1 − p) in control and p_t(1 − p_t) in treatment
(not as a mean with the declared or implied sd: 14,749 per arm at 10 % → 11 %, not 14,128),
a mean and a ratio by the declared sd, with relative and absolute MDEs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize
from typer.testing import CliRunner

from metricspec.cli import app

SOURCES = """\
source users = table shop.users {
  entity user_id: string
  time signup_ts: timestamp
}
source assignments = table shop.assignments {
  entity user_id: string
  time assigned_ts: timestamp
  column experiment_id: string, variant: string
}
source orders = table shop.orders {
  entity user_id: string, order_id: string
  time ts: timestamp
  column amount: number
}
"""

METRICS = """\
metric buyers = count_distinct(orders.user_id) {{ direction {buyers_dir}; {buyers_baseline} }}
metric revenue = sum(orders.amount) {{ direction up; baseline mean -20 sd 8 }}
metric aov = avg(orders.amount) {{ direction up; baseline mean 25 sd 10 }}
metric amount_p95 = p95(orders.amount) {{ direction down; baseline mean 90 sd 30 }}
"""

EXPERIMENT = """\
experiment shop_test {{
  unit user_id
  assignment assignments variant variant where experiment_id = 'shop_test'
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-15
  primary buyers
  secondary revenue, aov, amount_p95
  alpha 0.05; power 0.8; mde {mde}; correction none
  traffic 1000 per day
}}
"""

Z2 = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2


def plan(
    tmp_path: Path,
    *,
    mde: str = "10% relative",
    buyers_dir: str = "up",
    buyers_baseline: str = "baseline mean 0.1",
) -> dict[str, dict[str, object]]:
    (tmp_path / "s.mspec").write_text(
        SOURCES
        + METRICS.format(buyers_dir=buyers_dir, buyers_baseline=buyers_baseline)
        + EXPERIMENT.format(mde=mde)
    )
    result = CliRunner().invoke(app, ["plan", "shop_test", "-s", str(tmp_path), "-f", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    return {m["name"]: m["power"] for m in doc["metrics"]}


def test_proportion_is_sized_by_its_binomial_variance(tmp_path: Path) -> None:
    power = plan(tmp_path)["buyers"]
    # 10 % → 11 %, unpooled: z²·(0.1·0.9 + 0.11·0.89)/0.01² (reference section 5: 14,749)
    hand = Z2 * (0.1 * 0.9 + 0.11 * 0.89) / 0.01**2
    assert power["exact_per_variant"]["control"] == pytest.approx(hand, rel=1e-12)
    assert power["n_per_variant"] == {"control": 14_749, "treatment": 14_749}
    assert power["duration_days"] == pytest.approx(2 * hand / 1000)
    assert power["baseline_variance"] == pytest.approx(0.09)
    # statsmodels, arcsine effect size: a different approximation, within 1 %
    h = proportion_effectsize(0.11, 0.10)
    assert hand == pytest.approx(NormalIndPower().solve_power(h, alpha=0.05, power=0.8), rel=0.01)


def test_a_declared_sd_does_not_turn_a_proportion_into_a_mean(tmp_path: Path) -> None:
    power = plan(tmp_path, buyers_baseline="baseline mean 0.1 sd 0.3")["buyers"]
    assert power["n_per_variant"]["control"] == 14_749


def test_proportion_with_a_desired_decrease(tmp_path: Path) -> None:
    power = plan(tmp_path, buyers_dir="down")["buyers"]
    hand = Z2 * (0.1 * 0.9 + 0.09 * 0.91) / 0.01**2  # 10 % → 9 %
    assert power["exact_per_variant"]["treatment"] == pytest.approx(hand, rel=1e-12)


def test_proportion_with_an_absolute_mde(tmp_path: Path) -> None:
    power = plan(tmp_path, mde="0.02 absolute")["buyers"]
    hand = Z2 * (0.1 * 0.9 + 0.12 * 0.88) / 0.02**2
    assert power["exact_per_variant"]["control"] == pytest.approx(hand, rel=1e-12)
    assert power["effect_relative"] == pytest.approx(0.2)


def test_proportion_mde_at_the_planned_traffic(tmp_path: Path) -> None:
    power = plan(tmp_path)["buyers"]
    n = 15 * 1000 / 2  # 15 days (the window includes its last day) at 1,000 a day, half each
    d = power["mde_absolute"]
    assert math.sqrt(Z2) * math.sqrt((0.09 + (0.1 + d) * (0.9 - d)) / n) == pytest.approx(d)


def test_baseline_outside_zero_one_is_refused_for_a_proportion(tmp_path: Path) -> None:
    power = plan(tmp_path, buyers_baseline="baseline mean 1.5 sd 0.3")["buyers"]
    assert power["n_per_variant"] == {} and "between 0 and 1" in power["reason"]


@pytest.mark.parametrize(("mde", "delta"), [("10% relative", None), ("3 absolute", 3.0)])
def test_mean_and_ratio_use_the_declared_sd(tmp_path: Path, mde: str, delta: float | None) -> None:
    power = plan(tmp_path, mde=mde)
    for name, mean, sd in (("revenue", -20.0, 8.0), ("aov", 25.0, 10.0)):
        d = delta if delta is not None else 0.1 * abs(mean)
        hand = 2 * Z2 * sd * sd / d**2
        got = power[name]["exact_per_variant"]["control"]
        assert got == pytest.approx(hand, rel=1e-12), name
        ref = NormalIndPower().solve_power(d / sd, alpha=0.05, power=0.8)
        assert got == pytest.approx(ref, rel=1e-4), name  # statsmodels adds the far tail
        assert power[name]["effect_relative"] == pytest.approx(d / abs(mean))


def test_quantile_with_a_declared_baseline_is_not_sized_as_a_mean(tmp_path: Path) -> None:
    power = plan(tmp_path)["amount_p95"]
    assert not power.get("n_per_variant") and "not supported" in power["reason"]


def test_proportion_from_history_matches_the_declared_plan() -> None:
    # the warehouse path: unit-level 0/1 history with exactly 10 % converting
    from metricspec.stats import ExperimentConfig, Mde, MetricKind, MetricSpec, Moments, plan_power

    history = Moments.from_units({"buyers.x": [1.0] * 1000 + [0.0] * 9000})
    config = ExperimentConfig("control", {"control": 1, "treatment": 1}, mde=Mde(0.1))
    power = plan_power(MetricSpec("buyers", MetricKind.PROPORTION), history, config)
    assert power.n_per_variant == {"control": 14_749, "treatment": 14_749}


def test_derived_metric_from_history_uses_the_delta_method() -> None:
    import numpy as np

    from metricspec.stats import (
        Component,
        ExperimentConfig,
        Mde,
        MetricKind,
        MetricSpec,
        Moments,
        plan_power,
    )

    rng = np.random.default_rng(3)
    a, b = rng.gamma(2.0, 3.0, 20_000), rng.gamma(3.0, 2.0, 20_000)
    history = Moments.from_units({"a.x": a, "b.x": b})
    formula = 0.6 * Component("a.x") - 0.4 * Component("b.x")
    config = ExperimentConfig("control", {"control": 1, "treatment": 1}, mde=Mde(0.05))
    power = plan_power(MetricSpec("d", MetricKind.DERIVED, formula), history, config)
    value = 0.6 * a.mean() - 0.4 * b.mean()
    var = np.var(0.6 * a - 0.4 * b, ddof=1)  # a linear formula: the delta method is exact
    hand = 2 * Z2 * var / (0.05 * abs(value)) ** 2
    assert power.exact_per_variant["control"] == pytest.approx(hand, rel=1e-9)
