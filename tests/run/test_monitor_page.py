"""`metricspec monitor --html`: each monitor's series charted from its series query with the
windows in alert, on every judged window the band from the baseline it is judged against to
its alert limit (an alert's value lies beyond it, as the monitor said; a calm window's does
not), windows too small to judge as gaps, and a fixed threshold as a rule; the page fits 1280
pixels in headless Chromium, where band marks stand on windows that are not in alert
(screenshot kept)."""

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
from metricspec.run.execute import run_monitor, run_monitor_series

REPO = Path(__file__).resolve().parents[2]
SPECS = str(REPO / "specs")
SINCE, UNTIL = "2026-11-15", "2026-11-17"
# Run in the page after load: per monitor, the band boxes drawn, those clear of every shaded
# alert window (by their boxes on screen), and the alert windows.
BANDS = """<script>
window.addEventListener("load", function () {
const boxes = (s, g) => [...s.querySelectorAll("g." + g + "_marks path")].map(
  e => e.getBoundingClientRect()).filter(b => b.width > 0);
document.body.setAttribute("data-bands", [...document.querySelectorAll("section.monitor")]
  .map(s => { const a = boxes(s, "alert_windows"), b = boxes(s, "baseline");
    const calm = b.filter(x => !a.some(y => x.left < y.right - 0.5 && y.left < x.right - 0.5));
    return s.dataset.monitor + ":" + b.length + "," + calm.length + "," + a.length; })
  .join(" "));
});
</script>"""


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
    # the band on every judged window of the two days (5-minute windows), not only the alerts
    assert mark_count(csat, "baseline") > 10 * alerts and mark_count(csat, "value") == 1
    assert mark_count(found["hallucination_spike"], "baseline") > 10
    slow = found["slow_answers"]
    assert mark_count(slow, "threshold") == 1 and mark_count(slow, "alerts") == 0


@pytest.mark.parametrize("name", ["csat_drop", "hallucination_spike"])
def test_band_ends_at_the_alert_limit(name: str, workspace, conn) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    since, until = dt.datetime.fromisoformat(SINCE), dt.datetime.fromisoformat(UNTIL)
    plan = plan_monitor(workspace.index, name, start=since, end=until)
    run = run_monitor(workspace.index, name, conn, since=since, until=until, plan=plan)
    series = run_monitor_series(plan, conn, name=name)
    points = series_points(plan, series)
    alerts = [p for p in points if p.alert]
    assert [p.period for p in alerts] == [a["period"] for a in run.alerts]
    assert len(alerts) > 0
    below = plan.rule.endswith("below") or plan.rule == "below_baseline"
    for p in points:
        if p.value is None or p.band_low is None or p.band_high is None:
            continue
        beyond = p.value < p.band_low if below else p.value > p.band_high
        assert beyond == p.alert, p  # one window at a time: beyond the limit is an alert
    calm = [p for p in points if not p.alert and p.band_low is not None]
    assert len(calm) > 10 * len(alerts)
    assert all(p.period >= since for p in points)
    assert len(points) == len(series)


def test_windows_below_min_n_are_gaps(workspace, conn) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    # the demo's nights are quiet: some 5-minute windows hold fewer than min_n ratings
    since, until = dt.datetime.fromisoformat(SINCE), dt.datetime.fromisoformat(UNTIL)
    plan = plan_monitor(workspace.index, "csat_drop", start=since, end=until)
    series = run_monitor_series(plan, conn, name="csat_drop")
    small = [r for r in series if r["sample_n"] is not None and r["sample_n"] < plan.min_n]
    assert small and all(r["judged"] == 0 and r["alert"] == 0 for r in small)
    gaps = {p.period for p in series_points(plan, series) if p.value is None}
    assert {r["period"] for r in small} <= gaps


@pytest.mark.browser
def test_monitor_page_fits_1280_pixels(page: Path, tmp_path: Path) -> None:
    dom, scroll, client, overflowing, first = probed(page, tmp_path / "profile", BANDS)
    assert scroll <= client and overflowing == 0, first
    found = re.search(r'data-bands="([^"]*)"', dom)
    assert found, "the band probe did not run"
    bands = {name: tuple(map(int, counts.split(","))) for name, counts in
             (item.split(":") for item in found.group(1).split())}
    for name in ("csat_drop", "hallucination_spike"):
        drawn, calm, alerts = bands[name]
        # band boxes laid out on screen away from every shaded alert window
        assert alerts > 0 and calm > 10 * alerts and drawn > calm, bands
    screenshot(page, "monitors", tmp_path / "profile", 2000)
