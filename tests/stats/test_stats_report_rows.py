"""The report never contradicts itself or the data: the interval beside a p-value and a
verdict is the interval of the test that decides (the absolute difference, at the level the
correction uses), the forest plot's bars are that interval on the relative scale, a
sample-ratio check that did not run is shown as "not run" in every format (never "✓ ok" or
a green box), and no data reads "cannot analyse"."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from metricspec.analyze import analyze_data, analyze_rows
from metricspec.plan.experiment import ExperimentPlan, plan_experiment
from metricspec.report.experiment import build_report, report_json
from metricspec.report.html import render_html
from metricspec.report.terminal import render_experiment
from metricspec.stats import ExperimentData, Moments, VariantData, to_rows
from metricspec.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plan() -> ExperimentPlan:
    ws = Workspace.load(REPO / "specs")
    assert ws.ok
    return plan_experiment(ws.index, "tone_tuning")  # csat, ces (ratios), holm correction


def arm(rng: np.random.Generator, n: int, p: float, score: float) -> dict[str, Moments]:
    y = 1.0 + rng.poisson(1.5, n)
    x = rng.binomial(y.astype(int), p).astype(float)
    ces_y = 1.0 + rng.poisson(0.5, n)
    ces_x = ces_y * rng.normal(score, 1.5, n)
    return {
        "csat": Moments.from_units({"csat.x": x, "csat.y": y}),
        "ces": Moments.from_units({"ces.x": ces_x, "ces.y": ces_y}),
    }


def data(seed: int, lift: float, units: bool = True, n: int = 3000) -> ExperimentData:
    rng = np.random.default_rng(seed)
    arms = {
        "control": arm(rng, n, 0.50, 4.0),
        "treatment": arm(rng, n, 0.50 * (1 + lift), 4.0 * (1 - lift)),
    }
    return ExperimentData.single(
        {v: VariantData(m, units=n if units else None) for v, m in arms.items()}
    )


def render_text(report: object) -> str:
    console = Console(record=True, width=220, color_system=None)
    render_experiment(report, console)  # type: ignore[arg-type]
    return console.export_text()


def test_interval_beside_the_verdict_is_the_deciding_tests(plan: ExperimentPlan) -> None:
    contradicted_before = 0
    for seed in range(40):
        result = analyze_data(plan, data(seed, 0.02 + 0.001 * seed))
        report = build_report(plan, result, warehouse="test")
        for row in report.metrics:
            r = result.metric(row.metric, row.treatment)
            if r.absolute is None:
                continue
            excludes = row.ci_lower > 0 or row.ci_upper < 0
            assert excludes == r.significant, (seed, row)
            assert (r.absolute.ci_lower > 0 or r.absolute.ci_upper < 0) == r.significant
            # the row's interval is the absolute one, on the relative scale for the plot
            base = abs(r.control.unadjusted_value)
            assert row.ci_lower == pytest.approx(r.absolute.ci_lower / base, rel=1e-12)
            assert row.lift == pytest.approx(r.absolute.estimate / base, rel=1e-12)
            rel = r.relative
            if r.significant and rel.ci_lower <= 0 <= rel.ci_upper:
                contradicted_before += 1  # the delta-method lift CI would have contained 0
    assert contradicted_before > 0  # the sweep reaches the case the issue describes


def test_interval_text_is_in_the_metric_units_and_says_its_level(plan: ExperimentPlan) -> None:
    result = analyze_data(plan, data(1, 0.05))
    report = build_report(plan, result, warehouse="test")
    csat = next(r for r in report.metrics if r.metric == "csat")
    res = result.metric("csat")
    lo, hi = res.absolute.ci_lower, res.absolute.ci_upper
    assert csat.interval.startswith(f"[{'+' if lo >= 0 else '−'}{abs(lo) * 100:.2f}pp, ")
    assert f"{abs(hi) * 100:.2f}pp]" in csat.interval
    level = res.conventions.ci_level
    assert csat.interval_level == f"{level * 100:.4g}%"
    assert level == 0.95 or csat.interval.endswith(f"at {level * 100:.4g}%")
    text = render_text(report)
    assert "CI of Δ" in text and "95% CI" not in text


def test_srm_passed_failed_and_not_run_in_every_format(plan: ExperimentPlan) -> None:
    for units, status in ((True, "passed"), (False, "not_run")):
        result = analyze_data(plan, data(2, 0.0, units=units))
        report = build_report(plan, result, warehouse="test")
        payload = json.loads(json.dumps(report_json(report, result)))
        assert payload["analysis"]["srm"]["status"] == status
        assert payload["report"]["srm_status"] == status
        assert payload["report"]["srm_ok"] is (True if status == "passed" else None)
        text = render_text(report)
        html = render_html(report)
        section = re.search(r'<section id="srm"[^>]*>', html).group(0)
        assert f'data-status="{status}"' in section
        if status == "passed":
            assert "Sample ratio ✓ passed" in text and 'class="srm ok"' in section
        else:
            assert "✓" not in text.split("Metrics")[0] and " ok" not in text.split("Metrics")[0]
            assert "Sample ratio – not run" in text and "__units__" in text
            assert "srm ok" not in section and 'data-flagged="false"' in section


def test_empty_arm_is_a_mismatch_in_the_report(plan: ExperimentPlan) -> None:
    full = data(3, 0.0)
    only_control = ExperimentData.single({"control": full.overall.variants["control"]})
    result = analyze_data(plan, only_control)
    report = build_report(plan, result, warehouse="test")
    assert report.srm_status == "failed" and report.srm_ok is False
    assert "MISMATCH" in report.srm and "treatment" in report.srm
    assert "Sample ratio ✗" in render_text(report)
    assert 'data-flagged="true"' in render_html(report)


@pytest.mark.parametrize("rows", [[], "other"])
def test_no_data_reads_cannot_analyse(plan: ExperimentPlan, rows: object) -> None:
    if rows == "other":
        rows = to_rows(data(4, 0.0), experiment="another_experiment")
    result = analyze_rows(plan, rows)  # type: ignore[arg-type]
    report = build_report(plan, result, warehouse="test")
    assert report.decision == "cannot analyse"
    assert {r.metric for r in report.metrics} == {"csat", "ces", "latency_p95"}
    assert all(r.verdict == "insufficient data" and "no rows" in r.note for r in report.metrics)
    assert report.srm_status == "not_run"
    text = render_text(report)
    assert "CANNOT ANALYSE" in text and "no primary metric declared" not in text
    assert "Sample ratio – not run" in text
    assert 'data-decision="cannot analyse"' in render_html(report)


def test_guardrail_margin_on_the_forest_uses_the_magnitude_of_control() -> None:
    from metricspec.report.experiment import _margin_lift

    assert _margin_lift(0.5, relative=False, worse="decrease", control=-10.0) == pytest.approx(
        -0.05
    )
    assert _margin_lift(0.5, relative=False, worse="increase", control=-10.0) == pytest.approx(0.05)
    assert _margin_lift(0.1, relative=True, worse="decrease", control=-10.0) == -0.1


@pytest.mark.parametrize("sequential", [False, True])
@pytest.mark.parametrize("correction", ["none", "bonferroni", "holm", "bh"])
def test_every_interval_agrees_with_its_corrected_test(correction: str, sequential: bool) -> None:
    from metricspec.stats import Correction, ExperimentConfig, MetricSpec, Role, analyze

    config = ExperimentConfig(
        "control",
        {"control": 1, "a": 1, "b": 1},
        correction=Correction(correction),
        sequential=sequential,
        sequential_tuning=4000,
    )
    specs = [MetricSpec(f"m{i}", role=Role.PRIMARY if i < 2 else Role.SECONDARY) for i in range(5)]
    disagreements = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        arms = {}
        for v in ("control", "a", "b"):
            means = 10 + (0.0 if v == "control" else rng.uniform(-0.12, 0.12, 5))
            columns = {
                f"m{i}.x": rng.normal(np.broadcast_to(means, 5)[i], 1, 1000) for i in range(5)
            }
            arms[v] = VariantData(
                {f"m{i}": Moments.from_units({f"m{i}.x": columns[f"m{i}.x"]}) for i in range(5)},
                units=1000,
            )
        result = analyze(config, specs, ExperimentData.single(arms))
        for r in result.metrics:
            excludes = r.absolute.ci_lower > 0 or r.absolute.ci_upper < 0
            assert excludes == r.significant, (seed, r.metric, r.adjusted_p_value)
            disagreements += (r.p_value < 0.05) != r.significant
    if correction != "none":
        assert disagreements > 0  # the corrections did change some verdicts
