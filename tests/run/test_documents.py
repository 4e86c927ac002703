"""Analysis plans and the docs site: deterministic, complete, and with working links."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metricspec.cli import app

REPO = Path(__file__).resolve().parents[2]
SPECS = str(REPO / "specs")
runner = CliRunner()


def test_plan_markdown_is_deterministic_and_complete() -> None:
    first = runner.invoke(app, ["plan", "summarizer_v2", "-s", SPECS])
    second = runner.invoke(app, ["plan", "summarizer_v2", "-s", SPECS])
    assert first.exit_code == 0 and first.output == second.output
    text = first.output
    for heading in ("## Design", "## Hypotheses and metrics", "## Alpha, corrections and looks",
                    "## Decision rules"):
        assert heading in text
    assert "max increase 10%" in text and "holm" in text


def test_plan_json_schema_and_power_from_history(demo_database: Path) -> None:
    result = runner.invoke(app, ["plan", "prompt_template_v3", "-s", SPECS, "-f", "json",
                                 "-w", f"duckdb:///{demo_database}"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["schema"] == "metricspec.analysis-plan/1"
    primary = next(m for m in document["metrics"] if m["role"] == "primary")
    power = primary["power"]
    assert power["reason"] is None
    assert 0.05 < power["baseline_value"] < 0.2          # the hallucination rate
    assert power["effect_relative"] == 0.15              # the declared MDE
    assert min(power["n_per_variant"].values()) > 100
    assert document["baselines"]["daily_units"] > 0


def test_docs_site_links_resolve(tmp_path: Path) -> None:
    result = runner.invoke(app, ["docs", "-s", SPECS, "--out", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    pages = list((tmp_path / "site").rglob("*.html"))
    assert (tmp_path / "site" / "kpis" / "support_cost_reduction.html").exists()
    broken = []
    for page in pages:
        for href in re.findall(r'href="([^"#]+)"', page.read_text()):
            if not (page.parent / href).resolve().exists():
                broken.append((page.name, href))
    assert not broken, broken[:5]
    csat = (tmp_path / "site" / "metrics" / "csat.html").read_text()
    assert "BigQuery" in csat and "summarizer_v2" in csat and "<svg" not in csat


@pytest.mark.slow
def test_demo_command_runs_the_readme_job(tmp_path: Path) -> None:
    """The README's main job, as a new user runs it (a subprocess, in an empty folder)."""
    completed = subprocess.run(
        [sys.executable, "-m", "metricspec", "demo", "--spec-dir", SPECS, "--scale", "0.25"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    out = completed.stdout
    assert "Traceback" not in out + completed.stderr
    for expected in ("experiment summarizer_v2", "experiment prompt_template_v3",
                     "INVALID", "monitor csat_drop", "2026-11-16 14:",
                     # issue 12: active users over trailing windows, DAU/MAU, a balance,
                     # and the month-grain KPI tree explained
                     "stickiness", "backlog", "KPI tree monthly_engagement",
                     "Why Conversations moved"):
        assert expected in out, expected
    assert len(list((tmp_path / "demo-reports").glob("*.html"))) == 5  # one per experiment
    # the compile it suggests next works as printed, from the same folder
    suggested = re.search(r"run `metricspec (compile [^`]+)`", " ".join(out.split()))
    assert suggested, out[-500:]
    words = shlex.split(suggested.group(1))
    assert words[1] == SPECS
    compiled = subprocess.run([sys.executable, "-m", "metricspec", *words], cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
    assert compiled.returncode == 0, compiled.stderr[-2000:]
    assert (tmp_path / "build" / "manifest.json").is_file()
