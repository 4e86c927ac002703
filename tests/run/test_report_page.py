"""The HTML report's additions: progress against the analysis plan (planned sample from the
plan's power, days of the window) and the effect over time; checked in headless Chromium at
1280 px with the charts' marks counted, and with no effect chart (and no verdict) when the
split is broken. Screenshots are kept in tmp/artifacts."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest
from browser import probed, screenshot

from metricspec.analyze import analyze_rows
from metricspec.cli.run_commands import plan_progress
from metricspec.report.charts import EffectPoint, mark_count
from metricspec.report.experiment import build_report
from metricspec.report.html import render_html
from metricspec.report.progress import progress_of
from metricspec.run.execute import run_experiment
from metricspec.stats import ExperimentConfig, ExperimentData, MetricSpec, Moments, VariantData
from metricspec.stats import analyze as analyze_stats

VERDICT_WORDS = {"win", "loss", "flat", "changed", "pass", "fail", "inconclusive"}


def cumulative_effect(days: int) -> list[EffectPoint]:
    """Daily sums of a synthetic experiment accumulated and analysed by the engine."""
    rng = np.random.default_rng(11)
    totals = {v: [0, 0.0, 0.0] for v in ("control", "treatment")}
    points = []
    for day in range(days):
        for variant, mean in (("control", 0.78), ("treatment", 0.82)):
            x = (rng.random(300) < mean).astype(float)
            t = totals[variant]
            t[0], t[1], t[2] = t[0] + x.size, t[1] + float(x.sum()), t[2] + float(x @ x)
        data = ExperimentData.single({v: VariantData({"m": Moments(
            int(t[0]), {"m.x": t[1]}, {("m.x", "m.x"): t[2]})}, units=int(t[0]))
            for v, t in totals.items()})
        r = analyze_stats(ExperimentConfig("control", {"control": 1, "treatment": 1}),
                          [MetricSpec("m")], data).metric("m")
        assert r.relative is not None
        points.append(EffectPoint(dt.date(2026, 10, 1) + dt.timedelta(days=day),
                                  r.relative.estimate, r.relative.ci_lower, r.relative.ci_upper))
    return points


@pytest.fixture(scope="module")
def pages(demo_database, workspace):  # type: ignore[no-untyped-def]
    from metricspec.run.connections import connect

    built = {}
    with connect(f"duckdb:///{demo_database}") as conn:
        for name in ("summarizer_v2", "tone_tuning"):
            run = run_experiment(workspace.index, name, conn)
            result = analyze_rows(run.plan, run.rows)
            report = build_report(run.plan, result, warehouse="test")
            built[name] = (report, plan_progress(run.plan, result, conn), run.plan)
    return built


def test_progress_from_the_analysis_plan() -> None:
    document = {"metrics": [
        {"role": "primary", "label": "CSAT", "power": {"n_per_variant": {"a": 1000, "b": 1000}}},
        {"role": "primary", "label": "Speed", "power": {"n_per_variant": {"a": 400, "b": 400}}},
        {"role": "secondary", "label": "X", "power": {"n_per_variant": {"a": 9e9, "b": 9e9}}},
        {"role": "primary", "label": "p95", "power": {"reason": "percentiles: no power"}}]}
    start = dt.datetime(2026, 10, 1)
    p = progress_of(document, {"a": 500, "b": 250}, start, start + dt.timedelta(days=14),
                    start + dt.timedelta(days=7))
    assert p.planned_per_variant == {"a": 1000, "b": 1000} and p.sized_by == "CSAT"
    assert p.sample_share == 0.25 and p.time_share == 0.5
    assert p.time_text == "day 7 of 14 (50%)"
    empty = progress_of({"metrics": [document["metrics"][3]]}, {"a": 5}, start,
                        start + dt.timedelta(days=1), start + dt.timedelta(days=9))
    assert empty.sample_share is None and "percentiles" in empty.sample_text
    assert empty.time_share == 1.0


@pytest.mark.browser
def test_report_with_progress_and_effect_over_time(pages, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report, progress, _ = pages["summarizer_v2"]
    assert progress.planned_per_variant  # sized from the warehouse's history
    page = tmp_path / "report.html"
    page.write_text(render_html(report, progress, [("CSAT", cumulative_effect(14))]),
                    encoding="utf-8")
    dom, scroll, client, overflowing, first = probed(page, tmp_path / "profile")
    assert scroll <= client and overflowing == 0, first
    assert 'id="progress"' in dom and progress.time_text in dom
    assert mark_count(dom, "days") == 14 and mark_count(dom, "band") == 1
    assert mark_count(dom, "points") == len(report.metrics)
    screenshot(page, "report-summarizer_v2-progress", tmp_path / "profile", 1800)


@pytest.mark.browser
def test_invalid_experiment_draws_no_effect_and_no_verdict(pages, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report, progress, _ = pages["tone_tuning"]
    page = tmp_path / "invalid.html"
    page.write_text(render_html(report, progress, [("CSAT", cumulative_effect(5))]),
                    encoding="utf-8")
    dom, scroll, client, overflowing, first = probed(page, tmp_path / "profile")
    assert scroll <= client and overflowing == 0, first
    assert mark_count(dom, "days") == 0 and 'id="over-time"' not in dom
    body = re.sub(r"<script.*?</script>", " ", dom.split("<body", 1)[1], flags=re.S)
    words = set(re.findall(r"[a-z]+", re.sub(r"<[^>]*>", " ", body).lower()))
    assert not words & VERDICT_WORDS, words & VERDICT_WORDS
    screenshot(page, "report-tone_tuning-invalid", tmp_path / "profile")
