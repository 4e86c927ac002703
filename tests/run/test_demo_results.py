"""The planted effects of the demo warehouse are found by running the example specs — the
claims the README makes about `metricspec demo`, asserted on the same data."""

from __future__ import annotations

import datetime as dt

import pytest

from metricspec import stats
from metricspec.analyze import analyze_rows
from metricspec.run.execute import run_experiment, run_monitor
from metricspec.workspace import Workspace


@pytest.fixture(scope="module")
def results(demo_database, workspace: Workspace) -> dict[str, stats.AnalysisResult]:
    from metricspec.run.connections import connect

    out = {}
    with connect(f"duckdb:///{demo_database}") as conn:
        for name in workspace.index.experiments:
            run = run_experiment(workspace.index, name, conn)
            out[name] = analyze_rows(run.plan, run.rows)
    return out


def test_summarizer_csat_up_latency_guardrail_fails_dont_ship(results):
    result = results["summarizer_v2"]
    assert not result.srm.flagged
    csat = result.metric("csat")
    assert csat.significant and csat.verdict is stats.Verdict.WIN
    assert csat.relative.estimate > 0.03
    latency = next(g for g in result.guardrails if g.metric == "latency_p95"
                   and g.segment == "all")
    assert latency.status is stats.GuardrailStatus.FAIL
    assert latency.estimate > 0.10
    assert result.decision.outcome is stats.Outcome.DONT_SHIP
    assert any("latency_p95" in reason for reason in result.decision.reasons)


def test_prompt_template_cuts_hallucinations_and_ships(results):
    result = results["prompt_template_v3"]
    hallucination = result.metric("hallucination_rate")
    assert hallucination.significant and hallucination.verdict is stats.Verdict.WIN
    assert -0.25 < hallucination.relative.estimate < -0.05
    assert all(g.status is stats.GuardrailStatus.PASS for g in result.guardrails
               if g.segment == "all")
    assert result.decision.outcome is stats.Outcome.SHIP


def test_aa_test_is_not_a_false_alarm(results):
    result = results["greeting_aa"]
    assert not result.srm.flagged
    primary = result.metric("csat")
    assert not primary.significant
    assert result.decision.outcome is stats.Outcome.INCONCLUSIVE


def test_sample_ratio_mismatch_is_flagged_before_anything_else(results):
    result = results["tone_tuning"]
    assert result.srm.flagged and result.srm.p_value < 1e-6
    assert result.decision.outcome is stats.Outcome.INVALID


def test_csat_monitor_fires_in_the_planted_hour_and_nowhere_else(demo_database, workspace):
    from metricspec.run.connections import connect

    with connect(f"duckdb:///{demo_database}") as conn:
        run = run_monitor(workspace.index, "csat_drop", conn,
                          since=dt.datetime(2026, 9, 1), until=dt.datetime(2026, 11, 17))
    periods = [row["period"] for row in run.alerts]
    assert periods, "the planted CSAT drop was not detected"
    assert all(dt.datetime(2026, 11, 16, 14) <= p < dt.datetime(2026, 11, 16, 15)
               for p in periods), periods
