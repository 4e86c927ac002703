"""`metricspec check` as a user and a CI job run it: formats, exit statuses, usage errors.

Most tests run the command in-process (typer's CliRunner); a few run the installed
`metricspec` entry point in a subprocess, to see real exit statuses and stderr.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metricspec.cli import app

HERE = Path(__file__).parent
REPO = HERE.parents[1]
SPECS = REPO / "specs"
BROKEN = HERE / "broken"
NAMES = BROKEN / "names.mspec"          # errors with did-you-mean hints
KPI_TREE = BROKEN / "kpi_tree.mspec"    # errors and a warning

runner = CliRunner()


def check(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["check", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.output)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The `metricspec` command itself, as a separate process."""
    return subprocess.run([sys.executable, "-m", "metricspec", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


# ---------------------------------------------------------------- exit statuses

def test_the_example_specs_are_clean() -> None:
    status, output = check(str(SPECS))
    assert status == 0, output
    assert "0 error(s), 0 warning(s)" in output


@pytest.mark.slow
def test_the_example_specs_are_clean_as_a_process() -> None:
    done = run_cli("check", "specs/")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_paths_default_to_specs_in_the_working_folder(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(SPECS, tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    status, output = check()
    assert status == 0, output
    assert "10 files" in output


def test_errors_exit_1() -> None:
    assert check(str(NAMES))[0] == 1


@pytest.mark.slow
def test_broken_specs_exit_1_as_a_process() -> None:
    done = run_cli("check", str(BROKEN))
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize("args", [
    ["nope/"],                                  # a path that does not exist
    [str(SPECS), "--dialect", "oracle"],        # an unknown dialect (MS902's situation)
    [str(SPECS), "--bogus"],                    # an unknown option
    [str(SPECS), "--format", "xml"],            # a value the option does not take
    [str(SPECS), "--dialect"],                  # an option without its value
], ids=["missing-path", "unknown-dialect", "unknown-option", "bad-format", "no-value"])
def test_usage_errors_exit_2(args: list[str]) -> None:
    status, output = check(*args)
    assert status == 2, output


@pytest.mark.slow
def test_usage_errors_exit_2_as_a_process(tmp_path: Path) -> None:
    for args in (["check", "nope/"], ["check", "specs", "--bogus"]):
        done = run_cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stdout + done.stderr
        assert done.stderr.strip(), f"{args}: a usage error says what is wrong on stderr"


def test_an_unknown_dialect_names_the_known_ones() -> None:
    result = runner.invoke(app, ["check", str(SPECS), "--dialect", "oracle"])
    assert result.exit_code == 2
    assert "oracle" in result.output and "duckdb" in result.output


def test_a_folder_without_spec_files_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a spec\n", encoding="utf-8")
    assert check(str(tmp_path))[0] == 2          # the MS109 situation


def test_a_file_that_is_not_a_spec_is_reported(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a spec\n", encoding="utf-8")
    status, output = run_json(str(notes))
    assert status == 1
    assert [d["code"] for d in output["diagnostics"]] == ["MS100"]


def test_an_unknown_object_is_a_usage_error_with_a_hint() -> None:
    result = runner.invoke(app, ["sql", "csta", "--spec-dir", str(SPECS)])
    assert result.exit_code == 2                    # the MS901 situation
    assert "csat" in result.output


# ---------------------------------------------------------------- text output

def test_text_output_shows_location_code_line_and_caret() -> None:
    status, output = check(str(NAMES))
    assert status == 1
    lines = output.splitlines()
    head = f"{NAMES}:10:21: error[MS201]: "
    at = next(i for i, line in enumerate(lines) if line.startswith(head))
    source, caret = lines[at + 1], lines[at + 2]
    assert source == "   10 | metric deflection = csta * 2"
    prefix = "      | "
    assert caret.startswith(prefix)
    marks = caret[len(prefix):]
    assert marks.index("^") == 20 and marks.count("^") == len("csta")
    assert "did you mean `csat`?" in caret
    assert re.search(r"failed: .*; 6 error\(s\), 0 warning\(s\)", output)


def test_every_diagnostic_gets_a_heading_in_text_output() -> None:
    _, output = check(str(BROKEN))
    _, data = run_json(str(BROKEN))
    for d in data["diagnostics"]:
        assert f"{d['file']}:{d['line']}:{d['column']}: {d['severity']}[{d['code']}]: " in output


def test_control_characters_in_a_spec_do_not_reach_the_terminal(tmp_path: Path) -> None:
    spec = tmp_path / "evil.mspec"
    spec.write_text("metric \x1b[2J\x1b[31mred = 1 \x07\n", encoding="utf-8")
    status, output = check(str(spec))
    assert status == 1
    assert "\x1b" not in output and "\x07" not in output


# ---------------------------------------------------------------- JSON

def run_json(*args: str) -> tuple[int, dict[str, object]]:
    status, output = check(*args, "--format", "json")
    return status, json.loads(output)


DIAGNOSTIC_KEYS = {"code", "severity", "message", "file", "line", "column", "end_line",
                   "end_column", "hint"}


def test_json_output_follows_its_schema() -> None:
    status, data = run_json(str(KPI_TREE))
    assert status == 1
    assert {"version", "errors", "warnings", "diagnostics"} <= set(data)
    assert data["version"] == 1
    diagnostics = data["diagnostics"]
    assert isinstance(diagnostics, list)
    for d in diagnostics:
        assert set(d) >= DIAGNOSTIC_KEYS
        assert re.fullmatch(r"MS\d{3}", d["code"])
        assert d["severity"] in ("error", "warning", "note")
        assert isinstance(d["message"], str) and d["message"]
        assert d["file"] == str(KPI_TREE)
        for key in ("line", "column", "end_line", "end_column"):
            assert isinstance(d[key], int) and d[key] >= 1
        assert d["hint"] is None or isinstance(d["hint"], str)
    assert data["errors"] == sum(d["severity"] == "error" for d in diagnostics) == 2
    assert data["warnings"] == sum(d["severity"] == "warning" for d in diagnostics) == 1
    assert [(d["code"], d["line"], d["column"]) for d in diagnostics] == [
        ("MS302", 12, 18), ("MS303", 15, 5), ("MS303", 22, 3)]


def test_json_for_clean_specs_is_empty() -> None:
    status, data = run_json(str(SPECS))
    assert status == 0
    assert data["errors"] == data["warnings"] == 0 and data["diagnostics"] == []


def test_the_cycle_path_is_in_the_json_message() -> None:
    _, data = run_json(str(BROKEN / "cycles.mspec"))
    messages = [d["message"] for d in data["diagnostics"] if d["code"] == "MS301"]
    assert any("a -> b -> c -> a" in m for m in messages)


def test_json_hints_name_the_right_candidate() -> None:
    _, data = run_json(str(NAMES))
    hints = {(d["line"], d["column"]): d["hint"] for d in data["diagnostics"]}
    assert "`csat`" in hints[(10, 21)]
    assert "`interactions`" in hints[(11, 34)]
    assert "`latency_ms`" in hints[(12, 35)]


# ---------------------------------------------------------------- GitHub annotations

GITHUB = re.compile(r"::(error|warning|notice) file=([^,]+),line=(\d+),col=(\d+),"
                    r"endLine=(\d+),endColumn=(\d+),title=(MS\d{3})::(.+)")


def test_github_output_is_one_annotation_per_diagnostic() -> None:
    status, output = check(str(KPI_TREE), "--format", "github")
    assert status == 1
    lines = output.strip().splitlines()
    _, data = run_json(str(KPI_TREE))
    assert len(lines) == len(data["diagnostics"])
    for line, d in zip(lines, data["diagnostics"], strict=True):
        match = GITHUB.fullmatch(line)
        assert match, line
        kind, file, row, col = match.group(1), match.group(2), match.group(3), match.group(4)
        assert kind == d["severity"] and file == d["file"]
        assert (int(row), int(col)) == (d["line"], d["column"])
        assert match.group(7) == d["code"]


def test_github_output_escapes_newlines_and_percent(tmp_path: Path) -> None:
    spec = tmp_path / "odd.mspec"
    spec.write_text("metric m = count(s where x = '100%')\n", encoding="utf-8")
    _, output = check(str(spec), "--format", "github")
    for line in output.strip().splitlines():
        assert GITHUB.fullmatch(line), line


# ---------------------------------------------------------------- dialects and --strict

def test_bigquery_reports_approximate_percentiles() -> None:
    status, data = run_json(str(SPECS), "--dialect", "bigquery")
    assert status == 0                                  # warnings only
    approx = [d for d in data["diagnostics"] if d["code"] == "MS701"]
    assert approx and all(d["severity"] == "warning" for d in approx)
    assert {Path(d["file"]).name for d in approx} == {"operations.yaml"}
    assert len(approx) == 4             # latency p50, p95, p99, flagship p95


def test_exact_dialects_report_nothing() -> None:
    status, data = run_json(str(SPECS), "--dialect", "duckdb,snowflake", "--dialect",
                            "postgres")
    assert status == 0 and data["diagnostics"] == []


def test_all_dialects_include_bigquery() -> None:
    _, data = run_json(str(BROKEN / "backend_bigquery.mspec"), "--dialect", "all")
    bigquery = [d["code"] for d in data["diagnostics"] if d["message"].startswith("BigQuery ")]
    assert bigquery == ["MS701", "MS701"]


def test_strict_fails_on_warnings() -> None:
    assert check(str(SPECS), "--dialect", "bigquery", "--strict")[0] == 1
    assert check(str(SPECS), "--strict")[0] == 0
    status, output = check(str(BROKEN / "backend_bigquery.mspec"), "--strict")
    assert status == 0, output      # without --dialect bigquery there is nothing to warn about


# ------------------------------------------------- the target engine, judged by check

APPROXIMATE = """source events = table app.events { entity user_id; time ts }
metric users = count_distinct(events.user_id)
metric users_approx = count_distinct(events.user_id, approximate)
metric wau_approx = rolling(users_approx, 7 days)
"""


def test_compile_for_a_dialect_reports_what_it_cannot_compute(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "p.mspec").write_text(APPROXIMATE, encoding="utf-8")
    result = runner.invoke(app, ["compile", str(tmp_path / "specs"), "--dialect", "postgres",
                                 "--out", str(tmp_path / "build")])
    assert result.exit_code == 1
    assert "error[MS455]" in result.output and "p.mspec:3:" in result.output
    assert "internal error" not in result.output and not (tmp_path / "build").exists()
    ok = runner.invoke(app, ["compile", str(tmp_path / "specs"), "--dialect", "duckdb",
                             "--out", str(tmp_path / "build")])
    assert ok.exit_code == 0, ok.output


def test_a_warehouse_command_checks_the_specs_for_its_engine_before_connecting(
    tmp_path: Path,
) -> None:
    (tmp_path / "p.mspec").write_text(APPROXIMATE, encoding="utf-8")
    # nothing listens on port 1: reaching the warehouse would be exit 3, a warehouse error
    result = runner.invoke(app, ["query", "users_approx", "--spec-dir", str(tmp_path),
                                 "--warehouse", "postgresql://nobody@127.0.0.1:1/db"])
    assert result.exit_code == 1, result.output
    assert "error[MS455]" in result.output and "check --dialect postgres" in result.output
    assert "internal error" not in result.output
    # a metric the query does not use may be one only another warehouse computes: `users`
    # passes the check and reaches the (absent) warehouse, exit 3
    other = runner.invoke(app, ["query", "users", "--spec-dir", str(tmp_path),
                                "--warehouse", "postgresql://nobody@127.0.0.1:1/db"])
    assert other.exit_code == 3 and "MS455" not in other.output, other.output
