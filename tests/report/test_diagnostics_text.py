"""The diagnostics line never claims a check that did not run: no exposures is "not run", a
trend test without enough days is named as not run, and a report without the daily query
says "not run" (terminal and HTML)."""

from __future__ import annotations

import io

from rich.console import Console

from metricspec.report.diagnostics import passed_text, render_diagnostics, render_not_run


def _text(render, *args) -> str:  # type: ignore[no-untyped-def]
    buffer = io.StringIO()
    render(*args, Console(file=buffer, width=200, color_system=None))
    return buffer.getvalue()


def _metric(slope: float | None, reason: str = "") -> dict:  # type: ignore[type-arg]
    return {"label": "CSAT", "treatment": "treatment", "cumulative": [],
            "trend": {"slope": slope, "p_value": None if slope is None else 0.4,
                      "reason": reason}}


def test_no_exposures_is_not_run() -> None:
    out = _text(render_diagnostics, {"warnings": [], "by_day": [], "metrics": []})
    assert "not run" in out and "✓" not in out and "split even" not in out


def test_a_trend_test_that_could_not_run_is_named() -> None:
    view = {"warnings": [], "by_day": [{"day": 0}, {"day": 1}],
            "metrics": [_metric(None, "fewer than 3 days since exposure")]}
    text = passed_text(view)
    assert "split even on each of 2 days" in text
    assert "no trend" not in text
    assert "trend test not run for CSAT (fewer than 3 days since exposure)" in text
    assert "no trend in the primaries" in passed_text(
        {"warnings": [], "by_day": [{"day": 0}], "metrics": [_metric(0.01)]})


def test_without_the_daily_query_the_report_says_not_run() -> None:
    assert "Diagnostics – not run" in _text(render_not_run)


def test_a_long_finding_wraps_under_its_first_word_at_80_columns() -> None:
    finding = "novelty: " + " ".join(["the effect fades with days since exposure"] * 4)
    buffer = io.StringIO()
    render_diagnostics({"warnings": [finding, "short one"], "by_day": [{"day": 0}],
                        "metrics": []}, Console(file=buffer, width=80, color_system=None))
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    assert lines[1].startswith("  • novelty:") and lines[-1] == "  • short one"
    wrapped = lines[2:-1]
    assert wrapped and all(line.startswith("    ") and line[4] != " " for line in wrapped)
    assert all(len(line) <= 80 for line in lines)
    assert " ".join(line.strip(" •") for line in lines[1:-1]) == finding
