"""`metricspec diff` over a git history of realistic spec changes: the classification of
each change, the downstream impact, the Markdown comment (a golden file) and the exit status.

Regenerate the golden file with `METRICSPEC_UPDATE_GOLDEN=1 pytest tests/diff`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from diff_history import STEPS, build, git
from typer.testing import CliRunner

from metricspec.cli import app

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
TODAY = "2026-10-20"  # `tone` is running, `greeting` finished
runner = CliRunner()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("history") / "repo")


@pytest.fixture
def in_repo(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(repo)
    yield repo


def diff(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["diff", *args, "--today", TODAY])
    return result.exit_code, result.stdout


def step_json(tag: str) -> tuple[int, dict[str, Any]]:
    status, output = diff(f"{tag}~1", tag, "--format", "json")
    return status, json.loads(output)


def changes(data: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    return {f"{c['kind']}:{c['name']}": (c["change"], c["fields"] or c["through"])
            for c in data["changed"]}


def impact(data: dict[str, Any]) -> dict[str, str | None]:
    return {f"{i['kind']}:{i['name']}": i["status"] for i in data["impact"]}


def test_a_tightened_filter_is_a_meaning_change_reaching_a_running_experiment(
        in_repo: Path) -> None:
    status, data = step_json("filter-tightened")
    assert changes(data) == {
        "metric:csat": ("meaning", ["expr.left.filter.sql"]),
        "metric:csat_7d": ("dependency", ["metric:csat"]),
        "kpi:quality": ("dependency", ["metric:csat"]),
        "experiment:tone": ("dependency", ["metric:csat"]),
        "monitor:csat_drop": ("dependency", ["metric:csat"]),
    }
    assert impact(data) == {"metric:csat": None, "metric:csat_7d": None, "kpi:quality": None,
                            "experiment:tone": "running", "monitor:csat_drop": None}
    assert data["breaking"] == ["running experiment `tone` changes meaning"]
    assert status == 1
    sql = {(s["kind"], s["name"]): s["diff"] for s in data["sql"]}
    assert "+" in sql[("metric", "csat")] and "'test'" in sql[("metric", "csat")]
    assert ("experiment", "tone") in sql


def test_a_renamed_metric_is_a_removal_and_an_addition_paired(in_repo: Path) -> None:
    status, data = step_json("metric-renamed")
    assert [(e["name"], e["renamed"]) for e in data["added"]] == [
        ("p95_latency", "latency_p95")]
    assert [(e["name"], e["renamed"]) for e in data["removed"]] == [
        ("latency_p95", "p95_latency")]
    assert data["added"][0]["hash"] != data["removed"][0]["hash"]  # the name is meaning
    # what follows the rename changes through it, not in its own definition
    assert changes(data) == {f"{kind}:{name}": ("dependency", ["metric:p95_latency"])
                             for kind, name in (("kpi", "quality"), ("experiment", "greeting"),
                                                ("experiment", "tone"))}
    assert status == 1  # a removal breaks whatever still names it


def test_a_relaxed_margin_of_a_finished_experiment_is_not_breaking(in_repo: Path) -> None:
    status, data = step_json("margin-relaxed")
    assert changes(data) == {
        "experiment:greeting": ("meaning", ["guardrails[0].margin.amount.value"])}
    assert impact(data) == {"experiment:greeting": "finished"}
    assert data["meaning_changed"] and not data["breaking"]
    assert status == 0


def test_the_same_margin_change_breaks_while_the_experiment_runs(in_repo: Path) -> None:
    assert step_json("margin-relaxed")[0] == 0
    result = runner.invoke(app, ["diff", "margin-relaxed~1", "margin-relaxed", "--today",
                                 "2026-09-05", "--format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["impact"] == [
        {"kind": "experiment", "name": "greeting", "status": "running"}]


def test_an_edited_label_is_metadata_only(in_repo: Path) -> None:
    status, data = step_json("label-edited")
    assert changes(data) == {"metric:survey_score": ("metadata", ["label"])}
    assert data["impact"] == [] and data["sql"] == [] and not data["meaning_changed"]
    assert status == 0


def test_a_swapped_source_is_a_meaning_change_of_the_metric_and_its_experiment(
        in_repo: Path) -> None:
    status, data = step_json("source-swapped")
    assert changes(data) == {
        "metric:survey_score": ("meaning", ["expr.source.name"]),
        "experiment:greeting": ("dependency", ["metric:survey_score"]),
    }
    [sql] = [s["diff"] for s in data["sql"] if s["name"] == "survey_score"]
    assert "-" in sql and "feedback_v2" in sql
    assert status == 0


def test_the_markdown_comment_is_the_golden_file(in_repo: Path) -> None:
    status, output = diff("base", "feature", "--format", "markdown", "--no-sql")
    assert status == 1
    golden = GOLDEN / "base_to_feature.md"
    if os.environ.get("METRICSPEC_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(output, encoding="utf-8")
    assert output == golden.read_text(encoding="utf-8")


def test_markdown_with_sql_holds_a_diff_block_per_affected_object(in_repo: Path) -> None:
    status, output = diff("filter-tightened~1", "filter-tightened", "--format", "markdown")
    assert status == 1
    summaries = [line for line in output.splitlines() if line.startswith("<summary>")]
    assert summaries == ["<summary>metric `csat`</summary>",
                         "<summary>metric `csat_7d`</summary>",
                         "<summary>experiment `tone`</summary>",
                         "<summary>monitor `csat_drop`</summary>"]  # the KPI's SQL is the same
    assert output.count("```diff") == 4
    both = diff("filter-tightened~1", "filter-tightened", "--format", "markdown",
                "--dialect", "duckdb", "--dialect", "postgres")[1]
    assert both.count("```diff") == 8
    assert "### SQL (duckdb)" in both and "### SQL (postgres)" in both


def test_defaults_are_the_merge_base_with_main_and_the_working_tree(in_repo: Path) -> None:
    status, data = diff("--format", "json")
    assert status == 1
    all_steps = json.loads(data)
    assert {e["name"] for e in all_steps["removed"]} == {"latency_p95"}
    path = in_repo / "specs" / "metrics.mspec"
    text = path.read_text(encoding="utf-8")
    try:
        path.write_text(text.replace("rolling(csat, 7 days)", "rolling(csat, 14 days)"),
                        encoding="utf-8")
        result = runner.invoke(app, ["diff", "HEAD", "--format", "json", "--today", TODAY])
        data_wt = json.loads(result.stdout)
        assert changes(data_wt) == {"metric:csat_7d": ("meaning", ["expr.length.value"])}
        assert result.exit_code == 0
    finally:
        path.write_text(text, encoding="utf-8")


def test_two_folders_and_the_github_format(tmp_path: Path, repo: Path) -> None:
    shutil.copytree(repo / "specs", tmp_path / "head")
    git(repo, "archive", "--format=tar", "-o", str(tmp_path / "base.tar"), "base", "specs")
    shutil.unpack_archive(tmp_path / "base.tar", tmp_path / "base")
    result = runner.invoke(app, ["diff", str(tmp_path / "base" / "specs"),
                                 str(tmp_path / "head"), "--format", "github", "--today", TODAY])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert all(line.startswith("::") for line in lines)
    assert any(line.startswith("::error ") and "experiment `tone`" in line for line in lines)
    assert any(line.startswith("::warning ") and "survey_score`: meaning: expr.source.name; "
               "metadata: label" in line for line in lines)
    assert "::error title=metricspec diff::metric `latency_p95` (renamed to `p95_latency`) " \
           "removed" in lines


def test_github_annotations_of_a_revision_name_files_in_the_repository(in_repo: Path) -> None:
    status, output = diff("label-edited~1", "label-edited", "--format", "github")
    assert status == 0
    assert output == ("::notice file=specs/metrics.mspec,line=6,col=8,title=metricspec diff::"
                      "metric `survey_score`: metadata only: label\n")


def test_specs_new_at_head_are_all_added(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=T", "commit", "-q",
        "--allow-empty", "-m", "empty")
    shutil.copytree(HERE / "golden", repo / "docs")  # something else in the repository
    (repo / "specs").mkdir()
    (repo / "specs" / "s.mspec").write_text(
        "source t = table a.t {\n  entity id\n  time ts\n}\nmetric n = count(t)\n",
        encoding="utf-8")
    monkeypatch.chdir(repo)
    result = runner.invoke(app, ["diff", "--format", "json", "--no-sql"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(e["kind"], e["name"]) for e in data["added"]] == [("source", "t"), ("metric", "n")]
    assert "BASE has no spec files" in result.stderr


def test_a_nested_spec_folder_from_a_subfolder(tmp_path: Path, repo: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    nested = tmp_path / "nested"
    shutil.copytree(repo / "specs", nested / "analytics" / "metrics" / "specs")
    git(nested, "init", "-q", "-b", "main")
    git(nested, "add", ".")
    git(nested, "-c", "user.email=t@example.com", "-c", "user.name=T", "commit", "-q",
        "-m", "specs")
    path = nested / "analytics" / "metrics" / "specs" / "metrics.mspec"
    path.write_text(path.read_text(encoding="utf-8").replace("7 days", "28 days"),
                    encoding="utf-8")
    monkeypatch.chdir(nested / "analytics")
    result = runner.invoke(app, ["diff", "HEAD", "-s", "metrics/specs", "--format", "json",
                                 "--no-sql", "--today", TODAY])
    assert result.exit_code == 0, result.output
    assert changes(json.loads(result.stdout)) == {
        "metric:csat_7d": ("meaning", ["expr.length.value"])}


def test_usage_errors_exit_2(in_repo: Path) -> None:
    assert diff("no-such-revision", "HEAD")[0] == 2
    assert diff("base", "HEAD", "--dialect", "nosuchdb")[0] == 2
    result = runner.invoke(app, ["diff", "base", "HEAD", "--today", "yesterday"])
    assert result.exit_code == 2


def test_no_change_is_status_0(in_repo: Path) -> None:
    status, output = diff("HEAD", "HEAD")
    assert status == 0 and output.strip() == "no change of meaning"
    assert len(STEPS) == 5
