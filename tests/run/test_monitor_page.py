"""`metricspec monitor --html`: each monitor's series charted from its own metric query with
the windows in alert, the baseline each alert was judged against up to its alert limit (the
value lies beyond it, as the monitor said), and a fixed threshold as a rule; the page fits
1280 pixels in headless Chromium (screenshot kept)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser import probed, screenshot
from typer.testing import CliRunner

from metricspec.cli import app
from metricspec.plan.monitor import plan_monitor
from metricspec.report.charts import mark_count
from metricspec.report.monitor_html import series_points
from metricspec.run.execute import run_metrics, run_monitor

REPO = Path(__file__).resolve().parents[2]
SPECS = str(REPO / "specs")
SINCE, UNTIL = "2026-11-15", "2026-11-17"


def sections(page: str) -> dict[str, str]:
    parts = re.split(r'(?=<section class="monitor" data-monitor=")', page)
    return {re.match(r'<section class="monitor" data-monitor="(\w+)"', p).group(1): p  # type: ignore[union-attr]
            for p in parts[1:]}


@pytest.fixture(scope="module")
def page(demo_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("monitors") / "monitors.html"
    result = CliRunner().invoke(app, [
        "monitor", "csat_drop", "hallucination_spike", "slow_answers", "-s", SPECS, "-w",
        f"duckdb:///{demo_database}", "--since", SINCE, "--until", UNTIL, "--html", str(out)])
    assert result.exit_code == 1, result.output  # alerts fire on the incident day
    return out


def test_every_monitor_is_charted_with_its_alerts(page: Path) -> None:
    found = sections(page.read_text(encoding="utf-8"))
    assert set(found) == {"csat_drop", "hallucination_spike", "slow_answers"}
    csat = found["csat_drop"]
    alerts = csat.count("<tr>") - 1  # the header row
    assert alerts > 0
    assert mark_count(csat, "alerts") == alerts == mark_count(csat, "alert_windows")
    assert mark_count(csat, "baseline") == alerts and mark_count(csat, "value") == 1
    assert mark_count(found["hallucination_spike"], "baseline") == 1
    slow = found["slow_answers"]
    assert mark_count(slow, "threshold") == 1 and mark_count(slow, "alerts") == 0


@pytest.mark.parametrize("name", ["csat_drop", "hallucination_spike"])
def test_band_ends_at_the_alert_limit(name: str, workspace, conn) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    since, until = dt.datetime.fromisoformat(SINCE), dt.datetime.fromisoformat(UNTIL)
    plan = plan_monitor(workspace.index, name, start=since, end=until)
    run = run_monitor(workspace.index, name, conn, since=since, until=until, plan=plan)
    series = run_metrics(workspace.index, [plan.metric], conn, plan=plan.series)
    points = [p for p in series_points(plan, series, run.alerts) if p.alert]
    assert len(points) == len(run.alerts) > 0
    for p in points:
        assert p.value is not None and p.band_low is not None and p.band_high is not None
        if plan.rule.endswith("below") or plan.rule == "below_baseline":
            assert p.value < p.band_low  # beyond the lower limit
        else:
            assert p.value > p.band_high
    assert all(p.period >= since for p in series_points(plan, series, run.alerts))


@pytest.mark.browser
def test_monitor_page_fits_1280_pixels(page: Path, tmp_path: Path) -> None:
    _, scroll, client, overflowing, first = probed(page, tmp_path / "profile")
    assert scroll <= client and overflowing == 0, first
    screenshot(page, "monitors", tmp_path / "profile", 2000)
