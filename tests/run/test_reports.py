"""Reports: the HTML report rendered in headless Chromium shows the forest plot, verdicts
and the sample-ratio check, fits a 1280-pixel window and shows no verdict when the split is
broken; JSON and terminal reports agree with the analysis."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from metricspec.analyze import analyze_rows
from metricspec.report.charts import mark_count as marks
from metricspec.report.experiment import build_report, report_json
from metricspec.report.html import render_html
from metricspec.report.terminal import render_experiment
from metricspec.run.execute import run_experiment

EXPERIMENTS = ("greeting_aa", "prompt_template_v3", "summarizer_v2", "tone_tuning")
VERDICT_WORDS = {"win", "loss", "flat", "changed", "pass", "fail", "inconclusive"}
# Added to a copy of the page in the test only (the report itself has no scripts): writes the
# page's widths, and every element that overflows its box or the window, into the DOM.
_PROBE = """<script>
const d = document.documentElement;
const wide = [...document.querySelectorAll("body *")].filter(e =>
  (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible")
  || e.getBoundingClientRect().right > d.clientWidth + 1).map(e => e.tagName);
document.body.setAttribute("data-widths", d.scrollWidth + " " + d.clientWidth + " " + wide.length);
</script></body>"""
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def reports(demo_database, workspace):
    from metricspec.run.connections import connect

    built = {}
    with connect(f"duckdb:///{demo_database}") as conn:
        for name in EXPERIMENTS:
            run = run_experiment(workspace.index, name, conn)
            result = analyze_rows(run.plan, run.rows)
            built[name] = (build_report(run.plan, result, warehouse="test"), result)
    return built


class _Dom(HTMLParser):
    """Collects the elements of the rendered DOM that the checks need."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.srm: dict[str, str] = {}
        self.decision: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-verdict" in a:
            self.rows.append(a)
        elif tag == "section" and a.get("id") == "srm":
            self.srm = a
        elif tag == "span" and "data-decision" in a:
            self.decision = a["data-decision"]


def chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        if os.environ.get("METRICSPEC_REQUIRE_ENGINES") == "1":
            pytest.fail("Chromium is required (METRICSPEC_REQUIRE_ENGINES=1) but not installed")
        pytest.skip("Chromium is not installed (Debian package `chromium`)")
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120, check=True)


@pytest.mark.browser
def test_html_report_in_headless_chromium(reports, tmp_path: Path) -> None:
    report, _ = reports["summarizer_v2"]
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    dom = _Dom()
    page_dom = chromium(["--dump-dom", page.as_uri()], tmp_path).stdout
    dom.feed(page_dom)
    labels = {m.metric: m.label for m in report.metrics}
    verdicts = {labels[row["data-metric"]]: row["data-verdict"] for row in dom.rows}
    assert verdicts["CSAT"] == "win"
    assert verdicts["p95 answer latency"] == "loss"
    assert marks(page_dom, "points") == len(report.metrics)  # one point per metric
    assert marks(page_dom, "intervals") == len([m for m in report.metrics if m.ci_lower])
    assert marks(page_dom, "margins") == len([g for g in report.guardrails if g.margin_lift])
    assert dom.srm.get("data-flagged") == "false"
    assert dom.decision == "don't ship"
    screenshot = tmp_path / "report.png"
    chromium([f"--screenshot={screenshot}", "--window-size=1100,1400", page.as_uri()], tmp_path)
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one


@pytest.mark.browser
def test_html_report_flags_sample_ratio_mismatch(reports, tmp_path: Path) -> None:
    report, _ = reports["tone_tuning"]
    page = tmp_path / "srm.html"
    page.write_text(render_html(report), encoding="utf-8")
    dom = _Dom()
    dom.feed(chromium(["--dump-dom", page.as_uri()], tmp_path).stdout)
    assert dom.srm.get("data-flagged") == "true"
    assert dom.decision and dom.decision.startswith("invalid")


def test_json_report_carries_the_raw_analysis(reports) -> None:
    report, result = reports["summarizer_v2"]
    payload = report_json(report, result)
    assert payload["analysis"]["srm"]["flagged"] is False
    csat = next(m for m in payload["analysis"]["metrics"]
                if m["metric"] == "csat" and m["segment"] == "all")
    assert csat["significant"] is True


def test_terminal_report_orders_srm_metrics_guardrails_decision(reports) -> None:
    report, _ = reports["summarizer_v2"]
    console = Console(record=True, width=160)
    render_experiment(report, console, show_segments=False)
    text = console.export_text()
    positions = [text.index(s) for s in ("Sample ratio", "Metrics", "Guardrails", "Decision")]
    assert positions == sorted(positions)


@pytest.mark.browser
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_html_report_fits_a_1280_pixel_window(reports, name: str, tmp_path: Path) -> None:
    report, _ = reports[name]
    page = tmp_path / f"{name}.html"
    page.write_text(render_html(report).replace("</body>", _PROBE), encoding="utf-8")
    dom = chromium(["--window-size=1280,1000", "--dump-dom", page.as_uri()], tmp_path).stdout
    found = re.search(r'data-widths="(\d+) (\d+) (\d+)"', dom)
    assert found, "the probe did not run"
    scroll_width, client_width, overflowing = map(int, found.groups())
    assert scroll_width <= client_width
    assert overflowing == 0, f"{overflowing} element(s) wider than their box or the window"
    for m in report.metrics:  # n per arm is shown
        assert f"n {m.control_n}" in dom and f"n {m.treatment_n}" in dom
    drawn = [m for m in report.metrics if m.ci_lower is not None]  # each interval inline
    assert dom.count('class="bar"') == len(drawn) > 0
    assert marks(dom, "interval") == len(drawn)  # one interval per row's own chart


@pytest.mark.browser
def test_invalid_experiment_page_holds_no_verdict(reports, tmp_path: Path) -> None:
    report, _ = reports["tone_tuning"]
    page = tmp_path / "invalid.html"
    page.write_text(render_html(report), encoding="utf-8")
    dom = chromium(["--dump-dom", page.as_uri()], tmp_path).stdout
    assert 'role="alert"' in dom
    text = re.sub(r"<[^>]*>", " ", dom.split("<body", 1)[1]).lower()
    words = set(re.findall(r"[a-z]+", text))
    assert not words & VERDICT_WORDS, words & VERDICT_WORDS
    assert "not judged" in text
