"""The sample-ratio check has three states — passed, failed, not run — and a check that did
not run is never reported as passed. An empty arm is the most extreme mismatch: failed."""

from __future__ import annotations

import json

import pytest
from scipy import stats

from metricspec.stats import (
    ExperimentConfig,
    ExperimentData,
    MetricSpec,
    Moments,
    Outcome,
    Role,
    SegmentData,
    VariantData,
    analyze,
)
from metricspec.stats.results import SrmStatus
from metricspec.stats.srm import srm_check

TWO = ExperimentConfig("control", {"control": 1, "treatment": 1})
SPLIT = {"control": 0.5, "treatment": 0.5}
M = Moments.from_units({"m.x": [1.0, 2.0, 3.0, 4.0, 2.0, 3.0]})


def test_passed_and_failed_match_scipy() -> None:
    ok = srm_check({"control": 1000, "treatment": 1010}, SPLIT, 0.001)
    assert ok.status is SrmStatus.PASSED and not ok.flagged and ok.reason is None
    ref = stats.chisquare([1000, 1010], [1005, 1005])
    assert ok.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    bad = srm_check({"control": 1000, "treatment": 1200}, SPLIT, 0.001)
    assert bad.status is SrmStatus.FAILED and bad.flagged


@pytest.mark.parametrize(
    "counts", [{"control": 3, "treatment": 0}, {"control": 1000, "treatment": 0}]
)
def test_an_empty_arm_fails_whatever_the_p_value(counts: dict[str, int]) -> None:
    r = srm_check(counts, SPLIT, 0.001)
    assert r.status is SrmStatus.FAILED and r.flagged
    assert "treatment" in (r.reason or "") and "no exposed units" in (r.reason or "")


@pytest.mark.parametrize(
    ("counts", "reason"),
    [
        ({"control": None, "treatment": None}, "__units__"),
        ({"control": 0, "treatment": 0}, "no exposed units"),
    ],
)
def test_not_run_is_neither_passed_nor_flagged(counts: dict[str, int | None], reason: str) -> None:
    r = srm_check(counts, SPLIT, 0.001)
    assert r.status is SrmStatus.NOT_RUN and not r.flagged
    assert r.p_value is None and reason in (r.reason or "")
    assert r.to_dict()["status"] == "not_run"


def test_variant_missing_from_the_data_is_an_empty_arm() -> None:
    # the warehouse returns no row at all for an arm nobody was exposed to
    data = ExperimentData.single({"control": VariantData({"m": M}, units=6)})
    result = analyze(TWO, [MetricSpec("m", role=Role.PRIMARY)], data)
    assert result.srm.status is SrmStatus.FAILED
    assert result.srm.observed == {"control": 6, "treatment": 0}
    assert result.decision.outcome is Outcome.INVALID
    assert "treatment" in result.decision.reasons[0]


def test_stats_without_units_rows_do_not_run_the_check() -> None:
    arm = VariantData({"m": M})
    data = ExperimentData.single({"control": arm, "treatment": arm})
    result = analyze(TWO, [MetricSpec("m", role=Role.PRIMARY)], data)
    srm = result.to_dict()["srm"]
    assert srm["status"] == "not_run" and "__units__" in srm["reason"]
    assert srm["flagged"] is False
    json.dumps(result.to_dict(), allow_nan=False)


def test_an_arm_with_rows_but_no_units_row_is_not_run() -> None:
    data = ExperimentData(
        (
            SegmentData(
                "all",
                None,
                {"control": VariantData({"m": M}, units=6), "treatment": VariantData({"m": M})},
            ),
        )
    )
    result = analyze(TWO, [MetricSpec("m", role=Role.PRIMARY)], data)
    assert result.srm.status is SrmStatus.NOT_RUN
    assert "treatment" in (result.srm.reason or "")
