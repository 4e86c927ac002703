"""No data is not a verdict: without rows, exposures or the declared variants every metric is
"insufficient data" with the reason, the sample-ratio check is "not run" and the decision is
"cannot analyse" — never an empty table that reads as a result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metricspec.stats import (
    Direction,
    ExperimentConfig,
    ExperimentData,
    GuardrailStatus,
    Margin,
    MetricSpec,
    Moments,
    Outcome,
    Role,
    SegmentData,
    VariantData,
    Verdict,
    analyze,
    read_csv,
    read_rows,
)
from metricspec.stats.longformat import COLUMNS
from metricspec.stats.results import SrmStatus

CONFIG = ExperimentConfig("control", {"control": 1, "a": 1, "b": 1}, name="exp")
SPECS = [
    MetricSpec("p", role=Role.PRIMARY, direction=Direction.INCREASE),
    MetricSpec("s", role=Role.SECONDARY),
    MetricSpec("g", role=Role.GUARDRAIL, margin=Margin.max_increase(0.1)),
]


def check_cannot_analyse(data: ExperimentData, reason: str) -> None:
    result = analyze(CONFIG, SPECS, data)
    assert result.decision.outcome is Outcome.CANNOT_ANALYSE
    assert result.decision.outcome.value == "cannot analyse"
    assert result.decision.recommended is None
    assert any(reason in r for r in result.decision.reasons), result.decision.reasons
    assert not any("no primary metric declared" in r for r in result.decision.reasons)
    assert result.srm.status is SrmStatus.NOT_RUN and not result.srm.flagged
    overall = [r for r in result.metrics if r.segment == "all"]
    assert {(r.metric, r.treatment.variant) for r in overall} == {
        (s.name, t) for s in SPECS for t in ("a", "b")
    }
    for r in overall:
        assert r.verdict is Verdict.INSUFFICIENT and reason in (r.reason or "")
        assert r.absolute is None and r.p_value is None
    assert len(result.guardrails) == 2
    assert all(g.status is GuardrailStatus.INSUFFICIENT for g in result.guardrails)
    json.dumps(result.to_dict(), allow_nan=False)


def test_no_rows_at_all() -> None:
    check_cannot_analyse(ExperimentData(()), "no rows")


def test_header_only_csv(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(",".join(COLUMNS) + "\n")
    check_cannot_analyse(read_csv(path, experiment="exp"), "no rows")


def test_rows_of_another_experiment_only() -> None:
    rows = [
        {
            "experiment": "other",
            "segment": "all",
            "segment_value": None,
            "variant": "control",
            "metric": "__units__",
            "n": 10,
        }
    ]
    check_cannot_analyse(read_rows(rows, experiment="exp"), "no rows")


def test_zero_exposures() -> None:
    arms = {v: VariantData({}, units=0) for v in ("control", "a", "b")}
    check_cannot_analyse(ExperimentData.single(arms), "no exposed units")


def test_none_of_the_declared_variants() -> None:
    m = Moments.from_units({"p.x": [1.0, 2.0, 3.0]})
    arms = {v: VariantData({"p": m}, units=3) for v in ("A", "B")}
    check_cannot_analyse(ExperimentData.single(arms), "none of the declared variants")


def test_segments_without_overall_population_still_cannot_be_analysed() -> None:
    m = Moments.from_units({"p.x": [1.0, 2.0, 3.0]})
    seg = SegmentData(
        "platform", "ios", {v: VariantData({"p": m}, units=3) for v in ("control", "a", "b")}
    )
    result = analyze(CONFIG, SPECS, ExperimentData((seg,)))
    assert result.decision.outcome is Outcome.CANNOT_ANALYSE


@pytest.mark.parametrize("units", [None, 5])
def test_some_data_is_analysed_normally(units: int | None) -> None:
    m = Moments.from_units({"p.x": [1.0, 2.0, 3.0, 2.0, 4.0]})
    arms = {v: VariantData({"p": m}, units=units) for v in ("control", "a", "b")}
    result = analyze(CONFIG, SPECS, ExperimentData.single(arms))
    assert result.decision.outcome is not Outcome.CANNOT_ANALYSE
