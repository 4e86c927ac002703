"""The run-time commands end to end, in-process through Typer's runner: exit statuses, JSON
outputs, the statistics round trip, and clear warehouse errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from metricspec.cli import app

REPO = Path(__file__).resolve().parents[2]
SPECS = str(REPO / "specs")
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def test_run_prints_the_report_with_srm_first(demo_database: Path) -> None:
    code, output = invoke("run", "summarizer_v2", "-s", SPECS, "-w", f"duckdb:///{demo_database}",
                          "--no-segments")
    assert code == 0, output
    assert output.index("Sample ratio") < output.index("Metrics") < output.index("Decision")
    assert "DON'T SHIP" in output


def test_run_json_and_html(demo_database: Path, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    code, output = invoke("run", "prompt_template_v3", "-s", SPECS, "-w",
                          f"duckdb:///{demo_database}", "--format", "json", "--html", str(html))
    assert code == 0
    payload = json.loads(output[:output.rindex("}") + 1])
    assert payload["version"] == 1
    assert payload["analysis"]["decision"]["outcome"] == "ship"
    assert payload["report"]["srm_ok"] is True
    assert html.read_text().startswith("<!doctype html>")


def test_stats_export_and_analyze_round_trip(demo_database: Path, tmp_path: Path) -> None:
    stats_file = tmp_path / "stats.csv"
    code, first = invoke("run", "summarizer_v2", "-s", SPECS, "-w", f"duckdb:///{demo_database}",
                         "--format", "json", "--save-stats", str(stats_file))
    assert code == 0 and stats_file.exists()
    code, second = invoke("analyze", "summarizer_v2", "--stats", str(stats_file), "-s", SPECS,
                          "--format", "json")
    assert code == 0
    a = json.loads(first[:first.rindex("}") + 1])["analysis"]
    b = json.loads(second[:second.rindex("}") + 1])["analysis"]
    assert a["metrics"] == b["metrics"]
    assert a["decision"] == b["decision"]


def test_monitor_exits_1_when_an_alert_fires(demo_database: Path) -> None:
    url = f"duckdb:///{demo_database}"
    code, output = invoke("monitor", "csat_drop", "-s", SPECS, "-w", url, "--since",
                          "2026-11-16", "--until", "2026-11-17")
    assert code == 1
    assert "2026-11-16 14:00" in output
    code, output = invoke("monitor", "csat_drop", "-s", SPECS, "-w", url, "--since",
                          "2026-11-15", "--until", "2026-11-16", "--format", "json")
    assert code == 0
    assert json.loads(output)["firing"] is False


def test_monitor_over_a_range_without_data_is_insufficient_data_not_ok(
        demo_database: Path) -> None:
    url = f"duckdb:///{demo_database}"
    code, output = invoke("monitor", "csat_drop", "-s", SPECS, "-w", url, "--since",
                          "2030-01-01", "--until", "2030-01-02")
    assert code == 4, output
    assert "insufficient data" in output and "✓" not in output
    code, output = invoke("monitor", "csat_drop", "-s", SPECS, "-w", url, "--since",
                          "2030-01-01", "--until", "2030-01-02", "--format", "json")
    assert code == 4
    [report] = json.loads(output)["monitors"]
    assert report["status"] == "insufficient_data" and report["firing"] is False
    assert report["coverage"]["judged"] == 0
    code, output = invoke("monitor", "csat_drop", "-s", SPECS, "-w", url, "--since",
                          "2026-11-15", "--until", "2026-11-16", "--format", "json")
    [report] = json.loads(output)["monitors"]
    assert code == 0 and report["status"] == "ok"
    assert 0 < report["coverage"]["judged"] <= report["coverage"]["windows"] <= 24 * 12
    code, output = invoke("monitor", "csat_drop", "-s", SPECS, "-w", url, "--since",
                          "2026-11-15", "--until", "2026-11-16")
    judged, windows = report["coverage"]["judged"], report["coverage"]["windows"]
    assert f"{judged} of {windows} window(s) had enough data" in output


def test_query_metrics_by_dimension(demo_database: Path) -> None:
    code, output = invoke("query", "csat", "latency_p95", "--by", "channel", "--since",
                          "2026-11-01", "--until", "2026-11-02", "-s", SPECS, "-w",
                          f"duckdb:///{demo_database}", "--format", "json")
    assert code == 0
    rows = json.loads(output)
    assert {r["channel"] for r in rows} == {"chat", "email", "voice"}


@pytest.mark.parametrize("url, pattern", [
    ("mysql://localhost/db", r"unsupported|scheme"),
    ("postgresql://user:secret@127.0.0.1:1/db", r"warehouse error"),
])
def test_bad_warehouse_urls_exit_3_without_leaking_secrets(url: str, pattern: str) -> None:
    code, output = invoke("run", "summarizer_v2", "-s", SPECS, "-w", url)
    assert code == 3
    assert re.search(pattern, output, re.IGNORECASE)
    assert "secret" not in output


def test_missing_table_and_column_name_the_spec_object(tmp_path: Path) -> None:
    database = tmp_path / "broken.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA support")
        con.execute("CREATE TABLE support.assignments (experiment_id VARCHAR, user_id VARCHAR, "
                    "variant VARCHAR, assigned_ts TIMESTAMP, platform VARCHAR)")
        con.execute("CREATE TABLE support.feedback (user_id VARCHAR, ts TIMESTAMP)")
    code, output = invoke("run", "tone_tuning", "-s", SPECS, "-w", f"duckdb:///{database}")
    assert code == 3
    assert "experiment `tone_tuning`" in output
    assert "source `feedback`" in output and "thumbs" in output
    (tmp_path / "empty.duckdb").unlink(missing_ok=True)
    with duckdb.connect(str(tmp_path / "empty.duckdb")):
        pass
    code, output = invoke("run", "tone_tuning", "-s", SPECS, "-w",
                          f"duckdb:///{tmp_path / 'empty.duckdb'}")
    assert code == 3
    assert "support.assignments" in output


def test_unknown_names_are_usage_errors_with_a_suggestion() -> None:
    code, output = invoke("run", "sumarizer_v2", "-s", SPECS)
    assert code == 2
    assert "summarizer_v2" in output
