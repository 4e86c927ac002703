"""Terminal reports fit the console: at 80, 100, 120 and 160 columns every value and reason
of each demo experiment's report appears in full (no "…", no word cut), no line is wider
than the console, and an experiment whose sample-ratio check failed shows no verdict.
Monitor titles wrap at words and their thresholds carry the metric's unit."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from rich.cells import cell_len
from rich.console import Console

from metricspec.analyze import analyze_rows
from metricspec.report.experiment import NOT_JUDGED, ExperimentReport, build_report
from metricspec.report.monitor import MonitorReport, build_monitor_report
from metricspec.report.terminal import render_experiment, render_monitor
from metricspec.run.connections import connect
from metricspec.run.execute import run_experiment, run_monitor

EXPERIMENTS = ("greeting_aa", "prompt_template_v3", "summarizer_v2", "tone_tuning")
WIDTHS = (80, 100, 120, 160)
_BOX = re.compile(r"[\u2500-\u257f]")  # table and panel rules


@pytest.fixture(scope="module")
def reports(demo_database, workspace) -> dict[str, ExperimentReport]:
    built = {}
    with connect(f"duckdb:///{demo_database}") as conn:
        for name in EXPERIMENTS:
            run = run_experiment(workspace.index, name, conn)
            built[name] = build_report(run.plan, analyze_rows(run.plan, run.rows),
                                       warehouse="test")
    return built


def _render(report: ExperimentReport, width: int) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    render_experiment(report, console)
    return console.export_text()


def _flat(text: str) -> str:
    """The output without rules and with every run of whitespace one space."""
    return " ".join(_BOX.sub(" ", text).split())


def _word(token: str) -> str:
    return token.strip("()[],;:")


def _numbers(report: ExperimentReport) -> list[str]:
    """Values that must appear unbroken: numbers, intervals, p-values."""
    values = []
    for r in (*report.metrics, *report.segments):
        values += [r.control, r.treatment_value, r.absolute, r.relative, r.interval,
                   r.p_value, r.adjusted_p_value]
    for g in report.guardrails:
        values += [g.margin, g.estimate, g.bound]
    return [v for v in values if v]


def _prose(report: ExperimentReport) -> list[str]:
    """Text that may wrap inside a table cell, but none of whose words may be cut."""
    texts = []
    for r in (*report.metrics, *report.segments):
        texts += [r.label, r.role, r.verdict, r.note]
    for g in report.guardrails:
        texts += [g.label, g.status, g.reason]
    return [t for t in texts if t]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_value_and_reason_is_shown_in_full(reports, name: str, width: int) -> None:
    _check_in_full(reports[name], width)


def test_no_width_between_80_and_200_cuts_anything(reports) -> None:
    """Every width, so the switch between table and blocks is checked where it is tight."""
    for report in reports.values():
        for width in range(80, 201):
            _check_in_full(report, width)


def _check_in_full(report: ExperimentReport, width: int) -> None:
    text = _render(report, width)
    widest = max(cell_len(line) for line in text.splitlines())
    assert widest <= width, f"a line of {widest} columns at width {width}"
    assert "…" not in text  # nothing was truncated with an ellipsis
    flat = _flat(text)
    for value in _numbers(report):
        assert _flat(value) in flat, f"{value!r} not shown in full at {width} columns"
    for reason in report.reasons:  # the decision's reasons are whole sentences
        assert _flat(reason) in flat, f"reason {reason!r} not shown in full at {width}"
    words = {_word(w) for w in flat.split()}
    for prose in _prose(report):
        for word in map(_word, prose.split()):
            assert word in words, f"word {word!r} of {prose!r} cut at {width} columns"


def test_the_widest_console_shows_a_table_the_narrowest_blocks(reports) -> None:
    report = reports["summarizer_v2"]
    assert re.search(r"┃\s+adj\. p ┃", _render(report, 160))
    wide = _render(report, 200)  # with room to spare, n per arm joins the table
    assert re.search(r"┃\s+n ┃", wide)
    assert all(f"{r.control_n} / {r.treatment_n}" in wide for r in report.metrics)
    narrow = _render(report, 80)
    assert "┃" not in narrow.split("Guardrails")[0]  # one block per metric, no table
    assert re.search(r"Δ \S+ · lift \S+ · CI \[", narrow)


def test_reasons_are_in_the_metric_units(reports) -> None:
    reasons = " ".join(reports["summarizer_v2"].reasons)
    assert "relative increase +28.95% is beyond the margin 10%" in reasons
    assert "absolute increase +0.04pp is within the margin 0.5pp" in reasons
    assert not re.search(r"\d\.\d{4,}", reasons)  # no raw decimals


@pytest.mark.parametrize("width", (80, 160))
def test_an_invalid_experiment_shows_no_verdict(reports, width: int) -> None:
    report = reports["tone_tuning"]
    assert report.srm_ok is False
    assert {r.verdict for r in report.metrics} == {NOT_JUDGED}
    words = set(_flat(_render(report, width)).lower().split())
    assert not words & {"win", "loss", "flat", "pass", "fail", "changed"}


@pytest.fixture(scope="module")
def monitor_reports(demo_database, workspace) -> list[MonitorReport]:
    """Every monitor and guardrail over a range of the demo with alerts and without."""
    index = workspace.index
    since, until = dt.datetime(2026, 11, 10), dt.datetime(2026, 11, 20)
    built = []
    with connect(f"duckdb:///{demo_database}") as conn:
        for name in (*sorted(index.monitors), *sorted(index.guardrails)):
            result = run_monitor(index, name, conn, since=since, until=until)
            metric = index.metrics[result.plan.metric]
            built.append(build_monitor_report(result.plan, result.alerts, metric.format,
                                              metric.unit, since, until, result.coverage))
    return built


@pytest.mark.parametrize("width", WIDTHS)
def test_monitor_reports_wrap_at_words(monitor_reports, width: int) -> None:
    assert any(r.firing for r in monitor_reports) and not all(r.firing for r in monitor_reports)
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    for report in monitor_reports:
        render_monitor(report, console)
    text = console.export_text()
    assert max(cell_len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    flat = _flat(text)
    words = {_word(w) for w in flat.split()}
    for report in monitor_reports:
        for word in map(_word, f"{report.kind} {report.name} {report.rule}".split()):
            assert word in words, f"word {word!r} of the title cut at {width} columns"
        for row in report.alerts:
            for cell in row:
                assert _flat(cell) in flat


def test_monitor_thresholds_carry_the_metric_unit(monitor_reports) -> None:
    rules = {r.name: r.rule for r in monitor_reports}
    assert rules["slow_answers"].startswith("is above 6,000 ms")


@pytest.mark.slow
def test_piped_output_honours_columns(demo_database) -> None:
    """`COLUMNS=80 metricspec run … | less`: a piped report keeps to the width asked for."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    specs = Path(__file__).resolve().parents[2] / "specs"
    done = subprocess.run(
        [sys.executable, "-m", "metricspec", "run", "summarizer_v2", "-s", str(specs),
         "-w", f"duckdb:///{demo_database}", "--no-segments"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"}, timeout=120)
    assert done.returncode == 0, done.stderr
    widest = max(cell_len(line) for line in done.stdout.splitlines())
    assert widest <= 80, widest
    assert "DON'T SHIP" in done.stdout
