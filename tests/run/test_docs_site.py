"""The docs site built against the demo warehouse: metric pages chart their recent values,
the KPI page shows every node's value and change and explains the north star, experiment
pages link the reports found beside the site, the search index is escaped and the search box
finds objects; in headless Chromium every page fits 1280 pixels (screenshots kept)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from browser import probed, screenshot
from typer.testing import CliRunner

from metricspec.cli import app
from metricspec.report.charts import mark_count

REPO = Path(__file__).resolve().parents[2]
SPECS = str(REPO / "specs")
runner = CliRunner()


@pytest.fixture(scope="module")
def site(demo_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "site"
    warehouse = f"duckdb:///{demo_database}"
    for name in ("summarizer_v2", "tone_tuning"):
        result = runner.invoke(app, ["run", name, "-s", SPECS, "-w", warehouse, "--html",
                                     str(out / "reports" / f"{name}.html")])
        assert result.exit_code in (0, 1), result.output
    result = runner.invoke(app, ["docs", "-s", SPECS, "-w", warehouse, "--out", str(out),
                                 "--until", "2026-11-17", "--days", "28", "--period", "2026-10",
                                 "--vs", "2026-09"])
    assert result.exit_code == 0, result.output
    return out


def test_metric_pages_chart_recent_values(site: Path) -> None:
    csat = (site / "metrics" / "csat.html").read_text(encoding="utf-8")
    assert mark_count(csat, "value") == 1 and mark_count(csat, "alerts") == 0
    assert "2026-10-20 to 2026-11-16" in csat
    charted = [p for p in (site / "metrics").glob("*.html")
               if mark_count(p.read_text(encoding="utf-8"), "value") == 1]
    assert len(charted) >= 20  # every metric that has data by day


def test_kpi_page_shows_numbers_and_the_explanation(site: Path) -> None:
    page = (site / "kpis" / "support_cost_reduction.html").read_text(encoding="utf-8")
    assert page.count('class="figures"') == 14  # every node: value and change
    assert 'data-period="2026-10"' in page and 'data-vs="2026-09"' in page
    assert mark_count(page, "bars") == 7  # Sep, four leaves, the residual, Oct
    assert "unexplained (residual)" in page and "LMDI" in page
    index = (site / "index.html").read_text(encoding="utf-8")
    # the index shows both trees: these 14 nodes and monthly_engagement's 3
    assert index.count('class="figures"') == 14 + 3


def test_experiment_pages_link_their_reports(site: Path) -> None:
    page = site / "experiments" / "summarizer_v2.html"
    links = re.findall(r'href="([^"]*reports/[^"]+)"', page.read_text(encoding="utf-8"))
    assert links and (page.parent / links[0]).resolve() == (
        site / "reports" / "summarizer_v2.html").resolve()
    greeting = (site / "experiments" / "greeting_aa.html").read_text(encoding="utf-8")
    assert "No report yet" in greeting
    for p in site.rglob("*.html"):  # every link resolves
        for href in re.findall(r'href="([^"#]+)"', p.read_text(encoding="utf-8")):
            assert (p.parent / href).resolve().exists(), (p, href)


def test_search_index_is_escaped(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    hostile = "</script><script>alert(1)</script> &amp; <!--"
    (specs / "s.mspec").write_text(
        "source events = table raw.events { entity user_id: string time ts: timestamp }\n"
        f'metric hostile "Hostile" = count(events) {{ description "{hostile}" }}\n',
        encoding="utf-8")
    result = runner.invoke(app, ["docs", "-s", str(specs), "--out", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="search-index">(.*?)</script>',
                      page, re.S)
    assert found and "<" not in found.group(1) and "&" not in found.group(1)
    entries = json.loads(found.group(1))
    assert entries[0]["text"].endswith(hostile.lower())
    assert page.count("<script") == 2  # the index and the search script, nothing injected


@pytest.mark.browser
def test_search_box_finds_objects(site: Path, tmp_path: Path) -> None:
    typing = """<script>window.addEventListener("load", function () {
      const q = document.getElementById("q"); q.value = "support-finance cost";
      q.dispatchEvent(new Event("input"));
      document.body.setAttribute("data-found", [...document.querySelectorAll("#results a")]
        .map(a => a.getAttribute("href")).join(" "));
    });</script>"""
    dom, *_ = probed(site / "index.html", tmp_path / "profile", typing)
    found = re.search(r'data-found="([^"]*)"', dom)
    assert found, "the search did not run"
    hits = found.group(1).split()
    assert "metrics/cost_per_resolution.html" in hits
    assert "metrics/csat.html" not in hits


def _pages() -> list[str]:
    return ["index.html", "sources.html", "kpis/support_cost_reduction.html",
            "experiments/summarizer_v2.html", "experiments/tone_tuning.html",
            "metrics/csat.html", "metrics/cost_per_resolution.html",
            "metrics/queries_per_conversation.html", "metrics/latency_p95.html",
            "reports/summarizer_v2.html", "reports/tone_tuning.html"]


@pytest.mark.browser
@pytest.mark.parametrize("page", _pages())
def test_docs_pages_fit_1280_pixels(site: Path, page: str, tmp_path: Path) -> None:
    _, scroll, client, overflowing, first = probed(site / page, tmp_path / "profile")
    assert scroll <= client, (scroll, client)
    assert overflowing == 0, first
    screenshot(site / page, "docs-" + page.replace("/", "-").removesuffix(".html"),
               tmp_path / "profile")


@pytest.mark.browser
@pytest.mark.slow
def test_every_docs_page_fits_1280_pixels(site: Path, tmp_path: Path) -> None:
    """The pages `test_docs_pages_fit_1280_pixels` probes one by one (the same probe and
    assertions, one Chromium start each) are not probed a second time here."""
    checked = set(_pages())
    bad = []
    pages = [p for p in sorted(site.rglob("*.html"))
             if p.relative_to(site).as_posix() not in checked]
    assert len(pages) + len(checked) == len(list(site.rglob("*.html")))
    for page in pages:
        _, scroll, client, overflowing, first = probed(page, tmp_path / "profile")
        if scroll > client or overflowing:
            bad.append((page.relative_to(site).as_posix(), scroll, client, first))
    assert not bad, bad


@pytest.mark.browser
def test_kpi_tree_text_fits_its_boxes_as_rendered(site: Path, tmp_path: Path) -> None:
    """Measured by the browser, not estimated: every line of every box ends inside it."""
    measure = """<script>window.addEventListener("load", function () {
      const nodes = [...document.querySelectorAll("svg.kpi-tree g.node")];
      const cut = nodes.filter(function (g) {
        const r = g.querySelector("rect").getBBox();
        return [...g.querySelectorAll("text")].some(function (t) {
          const b = t.getBBox(); return b.x < r.x || b.x + b.width > r.x + r.width - 2; });
      });
      document.body.setAttribute("data-boxes", cut.length + " " + nodes.length);
    });</script>"""
    dom, *_ = probed(site / "kpis" / "support_cost_reduction.html", tmp_path / "profile",
                     measure)
    found = re.search(r'data-boxes="(\d+) (\d+)"', dom)
    assert found, "the measurement did not run"
    assert found.group(1) == "0" and found.group(2) == "14"


def test_docs_data_options_need_a_warehouse(tmp_path: Path) -> None:
    result = runner.invoke(app, ["docs", "-s", SPECS, "--out", str(tmp_path / "site"),
                                 "--period", "2026-10"])
    assert result.exit_code == 2 and "need --warehouse" in result.output
    assert not (tmp_path / "site").exists()
