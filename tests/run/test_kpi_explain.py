"""`metricspec kpi`: the demo tree's values in two months and why its north star moved,
checked against sums computed by hand from the demo tables: exact where the tree's
compositions are exact (ratio, product, sum), the residual reported where an edge declares
only drivers or a parent is not its composition; the text fits 80 columns."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from metricspec.cli import app
from metricspec.document.kpi_explain import Period, explain, explain_edge
from metricspec.plan.lower import PlanError

REPO = Path(__file__).resolve().parents[2]
SPECS = str(REPO / "specs")
KPI = "support_cost_reduction"


def hand_sums(db: Path, start: str, end: str) -> dict[str, float]:
    """The tree's base quantities for [start, end), written by hand against the tables."""
    with duckdb.connect(str(db), read_only=True) as con:
        cost, prompt, completion, queries = con.execute(
            "select sum(cost_usd), sum(prompt_cost_usd), sum(completion_cost_usd), "
            "count(*) filter (where role = 'user') from support.messages "
            "where ts >= ?::timestamp and ts < ?::timestamp", [start, end]).fetchone()
        conversations, resolved = con.execute(
            "select count(*), count(*) filter (where resolved and (escalation_turn is null or "
            "escalation_turn > 2)) from support.conversations "
            "where started_ts >= ?::timestamp and started_ts < ?::timestamp",
            [start, end]).fetchone()
    return {"cost": cost, "prompt": prompt, "completion": completion, "queries": queries,
            "conversations": conversations, "resolved": resolved}


def log_mean(a: float, b: float) -> float:
    return (a - b) / (math.log(a) - math.log(b))


@pytest.fixture(scope="module")
def explained(demo_database: Path) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, ["kpi", KPI, "-s", SPECS, "-w", f"duckdb:///{demo_database}",
                                      "--period", "2026-10", "--vs", "2026-09", "-f", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_explanation_matches_a_hand_computation(explained, demo_database: Path) -> None:  # type: ignore[no-untyped-def]
    sep = hand_sums(demo_database, "2026-09-01", "2026-10-01")
    oct_ = hand_sums(demo_database, "2026-10-01", "2026-11-01")
    nodes = explained["nodes"]
    edges = {e["parent"]: e for e in explained["edges"]}
    for s, key in ((sep, "before"), (oct_, "after")):  # the values, by hand
        assert nodes["cost_per_resolution"][key] == pytest.approx(s["cost"] / s["resolved"])
        assert nodes["queries_per_conversation"][key] == pytest.approx(
            s["queries"] / s["conversations"])
    # sum: each driver contributes its own change
    contrib = dict(map(tuple, edges["cost_per_query"]["contributions"]))
    assert contrib["prompt_cost_per_query"] == pytest.approx(
        oct_["prompt"] / oct_["queries"] - sep["prompt"] / sep["queries"], rel=1e-9)
    assert contrib["completion_cost_per_query"] == pytest.approx(
        oct_["completion"] / oct_["queries"] - sep["completion"] / sep["queries"], rel=1e-9)
    # product: LMDI by hand; exact, so no residual
    q0, q1 = sep["queries"] / sep["conversations"], oct_["queries"] / oct_["conversations"]
    c0, c1 = sep["cost"] / sep["queries"], oct_["cost"] / oct_["queries"]
    contrib = dict(map(tuple, edges["cost_per_conversation"]["contributions"]))
    weight = log_mean(q1 * c1, q0 * c0)
    assert contrib["queries_per_conversation"] == pytest.approx(weight * math.log(q1 / q0))
    assert contrib["cost_per_query"] == pytest.approx(weight * math.log(c1 / c0))
    assert edges["cost_per_conversation"]["residual"] == pytest.approx(0.0, abs=1e-12)
    # ratio: the denominator with the opposite sign
    t0, t1 = sep["resolved"] / sep["conversations"], oct_["resolved"] / oct_["conversations"]
    contrib = dict(map(tuple, edges["cost_per_resolution"]["contributions"]))
    weight = log_mean(q1 * c1 / t1, q0 * c0 / t0)
    assert contrib["task_completion"] == pytest.approx(-weight * math.log(t1 / t0))
    assert edges["cost_per_resolution"]["method"] == "LMDI"
    # drivers only: nothing decomposed, the whole change is the residual
    task = edges["task_completion"]
    assert task["method"] == "none" and all(a is None for _, a in task["contributions"])
    assert task["residual"] == pytest.approx(t1 - t0)
    # the north star's change is fully accounted for by the leaves and the residual
    star = nodes["cost_per_resolution"]
    total = sum(a for _, a in explained["breakdown"]) + explained["unexplained"]
    assert total == pytest.approx(star["after"] - star["before"], rel=1e-9)
    assert {m for m, _ in explained["breakdown"]} == {
        "queries_per_conversation", "prompt_cost_per_query", "completion_cost_per_query",
        "task_completion"}


def test_the_reconciliation_query_agrees(explained) -> None:  # type: ignore[no-untyped-def]
    """The edge residual is the change of the reconciliation query's residual."""
    rows = explained["reconciliation"]
    by = {(r["parent"], key): r for key in ("period", "vs") for r in rows[key]}
    for edge in explained["edges"]:
        if edge["method"] == "none":
            continue
        before, after = by[(edge["parent"], "vs")], by[(edge["parent"], "period")]
        assert after["residual"] - before["residual"] == pytest.approx(
            edge["residual"], abs=1e-12)


def test_a_parent_that_is_not_its_composition_leaves_a_residual(workspace) -> None:  # type: ignore[no-untyped-def]
    kpi = workspace.index.kpis[KPI]
    edge = next(e for e in kpi.edges if e.composition == "sum")
    before = {"cost_per_query": 10.0, "prompt_cost_per_query": 6.0,
              "completion_cost_per_query": 3.0}
    after = {"cost_per_query": 13.0, "prompt_cost_per_query": 7.0,
             "completion_cost_per_query": 4.5}
    e = explain_edge(edge, before, after)
    assert dict(e.contributions) == {"prompt_cost_per_query": 1.0,
                                     "completion_cost_per_query": 1.5}
    assert e.residual == pytest.approx(0.5)  # 3 − (1 + 1.5)
    negative = explain_edge(next(x for x in kpi.edges if x.composition == "product"),
                            {"cost_per_conversation": 1.0, "queries_per_conversation": -1.0,
                             "cost_per_query": -1.0},
                            {"cost_per_conversation": 2.0, "queries_per_conversation": 1.0,
                             "cost_per_query": 2.0})
    assert negative.method == "none" and negative.residual == 1.0


def test_tone_follows_the_desired_direction(workspace) -> None:  # type: ignore[no-untyped-def]
    ex = explain(workspace.index.kpis[KPI], workspace.index.metrics,
                 {"cost_per_resolution": 2.0, "csat": 0.5}, {"cost_per_resolution": 1.0,
                                                             "csat": 0.4}, "b", "a")
    assert ex.nodes["cost_per_resolution"].tone == "good"  # direction down, went down
    assert ex.nodes["csat"].tone == "bad"  # direction up, went down
    assert ex.nodes["tokens_per_answer"].tone == "neutral"  # no data


@pytest.mark.parametrize(("text", "start", "end"), [
    ("2026-11", "2026-11-01", "2026-12-01"), ("2026-12", "2026-12-01", "2027-01-01"),
    ("2026-11-03", "2026-11-03", "2026-11-04"),
    ("2026-11-01..2026-11-15", "2026-11-01", "2026-11-16")])
def test_periods(text: str, start: str, end: str) -> None:
    p = Period.parse(text)
    assert (p.start.isoformat()[:10], p.end.isoformat()[:10]) == (start, end)


@pytest.mark.parametrize("text", ["2026-13", "last month", "2026-10-20..2026-11-03",
                                  "2026-11-05..2026-11-01"])
def test_bad_periods(text: str) -> None:
    with pytest.raises(PlanError):
        Period.parse(text)


def test_text_fits_80_columns_and_keeps_every_number(demo_database: Path,
                                                     explained) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "metricspec", "kpi", KPI, "-s", SPECS, "-w",
                          f"duckdb:///{demo_database}", "--period", "2026-10", "--vs",
                          "2026-09"], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in run.stdout
    for node in explained["nodes"].values():
        assert any(node["label"] in line for line in lines), node["label"]  # never cut
    assert "unexplained (residual)" in run.stdout


def test_html_page_and_usage_errors(demo_database: Path, tmp_path: Path) -> None:
    page = tmp_path / "kpi.html"
    runner = CliRunner()
    result = runner.invoke(app, ["kpi", KPI, "-s", SPECS, "-w", f"duckdb:///{demo_database}",
                                 "--period", "2026-10", "--vs", "2026-09", "--html", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and 'class="figures"' in html and "bars_marks" in html
    bad = runner.invoke(app, ["kpi", KPI, "-s", SPECS, "--period", "November", "--vs", "2026-09"])
    assert bad.exit_code == 2 and "unknown period" in bad.output


@pytest.mark.browser
def test_kpi_page_fits_1280_pixels(demo_database: Path, tmp_path: Path) -> None:
    from browser import probed, screenshot

    from metricspec.report.charts import mark_count

    page = tmp_path / "kpi.html"
    result = CliRunner().invoke(app, ["kpi", KPI, "-s", SPECS, "-w", f"duckdb:///{demo_database}",
                                      "--period", "2026-10", "--vs", "2026-09", "--html",
                                      str(page), "-f", "json"])
    assert result.exit_code == 0, result.output
    dom, scroll, client, overflowing, first = probed(page, tmp_path / "profile")
    assert scroll <= client and overflowing == 0, first
    assert mark_count(dom, "bars") == 7
    screenshot(page, "kpi-support_cost_reduction", tmp_path / "profile", 1600)


def test_a_period_without_data_concludes_nothing(demo_database: Path) -> None:
    result = CliRunner().invoke(app, ["kpi", KPI, "-s", SPECS, "-w", f"duckdb:///{demo_database}",
                                      "--period", "2027-01", "--vs", "2026-10"])
    assert result.exit_code == 4, result.output
    assert "No change to explain" in result.output
