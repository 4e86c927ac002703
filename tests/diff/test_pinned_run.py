"""An experiment is analysed with the definitions `metricspec.lock` pinned it to.

The history of `diff_history` pins `greeting` (finished) at its first version; the feature
branch then renames `latency_p95` and swaps `survey_score` to another source. `metricspec run
greeting` on the branch recovers the pinned definitions from git and its numbers are those of
the first version run on its own (DuckDB), not those of the branch; without a commit giving
the pinned definitions the command says so and analyses nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from diff_history import build, git
from typer.testing import CliRunner

from metricspec import lockfile
from metricspec.cli import app
from metricspec.diff.revisions import extract
from metricspec.workspace import Workspace

runner = CliRunner()
ENV = {"METRICSPEC_TODAY": "2026-12-01", "COLUMNS": "160"}  # both experiments finished


def make_warehouse(path: Path, seed: int = 7) -> str:
    """A small warehouse for the history's sources: 400 users in `greeting` and `tone`."""
    rng = np.random.default_rng(seed)
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA support")
    con.execute("CREATE TABLE support.assignments (user_id VARCHAR, assigned_ts TIMESTAMP, "
                "experiment_id VARCHAR, variant VARCHAR)")
    for table in ("feedback", "feedback_v2"):
        con.execute(f"CREATE TABLE support.{table} (user_id VARCHAR, conversation_id VARCHAR, "
                    "ts TIMESTAMP, channel VARCHAR, thumbs VARCHAR, csat_score INTEGER)")
    con.execute("CREATE TABLE support.messages (user_id VARCHAR, conversation_id VARCHAR, "
                "ts TIMESTAMP, channel VARCHAR, latency_ms DOUBLE)")
    rows: dict[str, list[tuple[object, ...]]] = {
        "assignments": [], "feedback": [], "feedback_v2": [], "messages": []}
    for exp, start in (("greeting", dt.datetime(2026, 9, 1)), ("tone", dt.datetime(2026, 10, 15))):
        for i in range(400):
            user = f"{exp}-{i}"
            variant = "treatment" if i % 2 else "control"
            seen = start + dt.timedelta(hours=int(rng.integers(0, 24 * 10)))
            rows["assignments"].append((user, seen, exp, variant))
            for k in range(int(rng.integers(1, 4))):
                ts = seen + dt.timedelta(hours=1 + k)
                score = int(rng.integers(1, 6))
                # the deduplicated table scores treatment users one point lower
                score_v2 = max(1, score - (1 if variant == "treatment" else 0))
                thumbs = "up" if score >= 4 else "down"
                rows["feedback"].append((user, f"{user}-{k}", ts, "web", thumbs, score))
                rows["feedback_v2"].append((user, f"{user}-{k}", ts, "web", thumbs, score_v2))
                rows["messages"].append((user, f"{user}-{k}", ts, "web",
                                         float(rng.gamma(4.0, 300.0))))
    for table, values in rows.items():
        frame = pa.table({f"c{i}": list(column) for i, column in enumerate(zip(*values,
                                                                                strict=True))})
        con.register("frame", frame)
        con.execute(f"INSERT INTO support.{table} SELECT * FROM frame")
        con.unregister("frame")
    con.close()
    return f"duckdb:///{path}"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("pinned")
    repo = build(root / "repo")
    git(repo, "checkout", "-q", "base")
    result = runner.invoke(app, ["lock", "-s", str(repo / "specs"), "--today", "2026-10-20"])
    assert result.exit_code == 0, result.output
    git(repo, "checkout", "-q", "feature")  # the lock stays: it is not in the history
    return repo, make_warehouse(root / "warehouse.duckdb")


def _values(report: dict, metric: str) -> dict[str, float]:
    rows = [m for m in report["analysis"]["metrics"] if m["metric"] == metric]
    assert rows, f"no {metric} in the analysis"
    return {"control": rows[0]["control"]["value"], "treatment": rows[0]["treatment"]["value"]}


def test_a_finished_experiment_is_analysed_with_its_pinned_definitions(
        setup: tuple[Path, str], tmp_path: Path) -> None:
    repo, url = setup
    result = runner.invoke(app, ["run", "greeting", "-s", str(repo / "specs"), "--warehouse",
                                 url, "--format", "json"], env=ENV)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["report"]["pinned"].startswith("definitions pinned: ")
    assert "metricspec.lock, from commit " in report["report"]["pinned"]
    pinned = _values(report, "survey_score")
    guardrails = {g["metric"] for g in report["analysis"]["guardrails"]}
    assert guardrails == {"latency_p95"}  # the name it had when pinned

    # the first version, run on its own, gives the same numbers
    old = Workspace.load(extract(repo, "base", "specs", tmp_path / "old"))
    old_outcome = old.run("greeting", url)
    assert old_outcome.pinned == ""  # no lock beside the extracted specs
    old_rows = {m.treatment.variant: (m.control.value, m.treatment.value)
                for m in old_outcome.result.metrics if m.metric == "survey_score"}
    assert pinned == {"control": old_rows["treatment"][0],
                      "treatment": old_rows["treatment"][1]}
    # and the branch's definitions would have given others (the swapped source)
    new = Workspace.load(extract(repo, "feature", "specs", tmp_path / "new"))
    new_rows = [m for m in new.run("greeting", url).result.metrics if m.metric == "survey_score"]
    assert new_rows[0].treatment.value < pinned["treatment"]
    # the notebook API does the same as the command
    here = Workspace.load(repo / "specs", today=dt.date(2026, 12, 1))
    outcome = here.run("greeting", url)
    assert outcome.pinned == report["report"]["pinned"]
    assert [m.treatment.value for m in outcome.result.metrics] == [
        m.treatment.value for m in old_outcome.result.metrics]


def test_the_terminal_and_html_reports_show_the_hash(setup: tuple[Path, str],
                                                     tmp_path: Path) -> None:
    repo, url = setup
    html = tmp_path / "report.html"
    result = runner.invoke(app, ["run", "greeting", "-s", str(repo / "specs"), "--warehouse",
                                 url, "--html", str(html)], env=ENV)
    assert result.exit_code == 0, result.output
    assert "definitions pinned: " in result.output and "(metricspec.lock" in result.output
    short = lockfile.read(repo / "metricspec.lock").experiments["greeting"].short
    assert f"definitions pinned: {short} (metricspec.lock" in html.read_text(encoding="utf-8")


def test_pinned_definitions_no_commit_gives_are_an_error(tmp_path: Path) -> None:
    repo = build(tmp_path / "repo")
    git(repo, "checkout", "-q", "base")
    metrics = repo / "specs" / "metrics.mspec"
    text = metrics.read_text(encoding="utf-8")
    # pinned from a working tree that was never committed
    metrics.write_text(text.replace("avg(feedback.csat_score)", "avg(feedback.csat_score) * 2"),
                       encoding="utf-8")
    assert runner.invoke(app, ["lock", "-s", str(repo / "specs"), "--today", "2026-10-20"]
                         ).exit_code == 0
    metrics.write_text(text, encoding="utf-8")
    url = make_warehouse(tmp_path / "w.duckdb")
    result = runner.invoke(app, ["run", "greeting", "-s", str(repo / "specs"), "--warehouse",
                                 url], env=ENV)
    assert result.exit_code == 1
    assert "pinned to definitions" in result.output
    assert "no commit of specs/ gives them" in result.output


def test_analyze_uses_the_pinned_definitions_too(setup: tuple[Path, str],
                                                 tmp_path: Path) -> None:
    """`analyze` plans the experiment from the pinned definitions: the statistics a pinned
    run saved give the same analysis, under the names the metrics had when pinned."""
    repo, url = setup
    stats = tmp_path / "stats.csv"
    ran = runner.invoke(app, ["run", "greeting", "-s", str(repo / "specs"), "--warehouse", url,
                              "--format", "json", "--save-stats", str(stats)], env=ENV)
    assert ran.exit_code == 0, ran.output
    analysed = runner.invoke(app, ["analyze", "greeting", "-s", str(repo / "specs"), "--stats",
                                   str(stats), "--format", "json"], env=ENV)
    assert analysed.exit_code == 0, analysed.output
    first, second = json.loads(ran.output), json.loads(analysed.output)
    assert second["report"]["pinned"] == first["report"]["pinned"]
    assert _values(second, "survey_score") == _values(first, "survey_score")
    assert {g["metric"] for g in second["analysis"]["guardrails"]} == {"latency_p95"}
