"""`analysis bayesian` and `sequential looks K spending …` end to end: a spec on the demo
warehouse, its SQL executed on DuckDB, the analysis through the CLI (`run --look`, and
`analyze --stats` on the saved statistics), the readouts checked against the conjugate
formulas on the frequentist estimates the same JSON reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from scipy import stats
from typer.testing import CliRunner

from metricspec.cli import app
from metricspec.demo.generate import generate
from metricspec.stats.group_sequential import Spending, boundaries

REPO = Path(__file__).resolve().parents[2]

TONE = """experiment tone_tuning "Warmer tone in answers" {
  unit user_id
  assignment assignments variant variant where experiment_id = 'tone_tuning'
  variants control 50% control, treatment 50%
  window 2026-10-15 .. 2026-10-28
  primary csat
  secondary ces
  guardrail latency_p95 max_increase 10%
  correction holm
  analysis bayesian
  prior mean 0 sd 0.2
  chance_to_win 95%; max_risk 1%
  sequential looks 3 spending obrien_fleming
  traffic 900 per day
}
"""


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("designs")
    specs = root / "specs"
    shutil.copytree(REPO / "specs", specs)
    (specs / "experiments" / "tone_tuning.mspec").write_text(TONE)
    wh = root / "small.duckdb"
    generate(wh, scale=0.02)
    return specs, wh


def test_run_with_bayesian_readouts_at_a_look(project: tuple[Path, Path], tmp_path: Path) -> None:
    specs, wh = project
    saved = tmp_path / "stats.csv"
    code, out = invoke(
        "run", "tone_tuning", "-s", str(specs), "-w", f"duckdb:///{wh}",
        "--format", "json", "--look", "2", "--save-stats", str(saved),
    )  # fmt: skip
    assert code == 0, out
    analysis = json.loads(out)["analysis"]
    gs = analysis["settings"]["group_sequential"]
    assert gs["look"] == 2 and not gs["final"]
    # the family (csat, ces) splits alpha: boundaries at 0.05 / 2, the second look's fraction
    # the share of the planned 900 × 14 units reached
    want = boundaries([1 / 3, gs["fraction"]], 0.025, Spending.OBRIEN_FLEMING)[-1]
    assert gs["boundary"] == pytest.approx(want, rel=1e-9)
    assert "chance to beat control" in analysis["settings"]["bayesian"]["rule"]
    overall = [m for m in analysis["metrics"] if m["segment"] == "all"]
    assert {m["metric"] for m in overall} >= {"csat", "ces"}
    for m in overall:
        if m["verdict"] == "insufficient data":
            continue
        rel, post = m["relative"], m["bayesian"]["relative"]
        prec = 1 / rel["se"] ** 2 + 1 / 0.2**2
        assert post["mean"] == pytest.approx(rel["estimate"] / rel["se"] ** 2 / prec, rel=1e-9)
        assert post["sd"] == pytest.approx(prec**-0.5, rel=1e-9)
        up = stats.norm.sf(0, post["mean"], post["sd"])  # P(lift > 0)
        win = 1 - up if m["direction"] == "decrease" else up
        assert post["chance_to_win"] == pytest.approx(win, rel=1e-9)
        z = m["absolute"]["estimate"] / m["absolute"]["se"]
        half = m["absolute"]["ci_upper"] - m["absolute"]["estimate"]
        assert half == pytest.approx(gs["boundary"] * m["absolute"]["se"], rel=1e-9)
        assert isinstance(z, float)
    # the same statistics analysed offline give the same numbers
    code, again = invoke(
        "analyze", "tone_tuning", "--stats", str(saved), "-s", str(specs),
        "--format", "json", "--look", "2",
    )  # fmt: skip
    assert code == 0, again
    assert json.loads(again)["analysis"]["metrics"] == analysis["metrics"]


def test_look_is_refused_without_a_design_or_beyond_the_last(project: tuple[Path, Path]) -> None:
    specs, wh = project
    code, out = invoke("run", "tone_tuning", "-s", str(specs), "-w", f"duckdb:///{wh}",
                       "--look", "4")  # fmt: skip
    assert code == 2 and "plans 3 looks" in out
    code, out = invoke("run", "summarizer_v2", "-s", str(specs), "-w", f"duckdb:///{wh}",
                       "--look", "1")  # fmt: skip
    assert code == 2 and "no group-sequential design" in out


STRATIFIED = """experiment tone_tuning "Warmer tone in answers" {
  unit user_id
  assignment assignments variant variant where experiment_id = 'tone_tuning'
  variants control 50% control, treatment 50%
  window 2026-10-15 .. 2026-10-28
  primary csat
  secondary conversation_count, total_cost
  correction holm
  stratify platform
}
"""


def test_run_post_stratified_by_a_pre_exposure_dimension(
    project: tuple[Path, Path], tmp_path: Path
) -> None:
    """The strata are the dimension's segment rows the SQL computes on DuckDB; the overall
    comparison of each mean equals the post-stratified estimator on those rows."""
    from metricspec.stats import read_csv
    from metricspec.stats.poststrat import PostStratified, poststratify

    specs = tmp_path / "specs"
    shutil.copytree(project[0], specs)
    (specs / "experiments" / "tone_tuning.mspec").write_text(STRATIFIED)
    saved = tmp_path / "stats.csv"
    code, out = invoke(
        "run", "tone_tuning", "-s", str(specs), "-w", f"duckdb:///{project[1]}",
        "--format", "json", "--save-stats", str(saved),
    )  # fmt: skip
    assert code == 0, out
    analysis = json.loads(out)["analysis"]
    notes = analysis["settings"]["poststratification"]
    assert notes["dimension"] == "platform"
    assert notes["metrics"]["csat (treatment)"].startswith("post-stratified over")  # a ratio
    data = read_csv(saved, experiment="tone_tuning")
    from metricspec.stats import MetricKind, MetricSpec

    for name in ("conversation_count", "total_cost", "csat"):
        assert notes["metrics"][f"{name} (treatment)"].startswith("post-stratified over")
        row = next(m for m in analysis["metrics"] if m["metric"] == name and m["segment"] == "all")
        kind = MetricKind.RATIO if name == "csat" else MetricKind.MEAN
        spec = MetricSpec(name, kind=kind)
        want = poststratify(spec, data, "platform", "control", "treatment")
        assert isinstance(want, PostStratified)
        assert row["absolute"]["estimate"] == pytest.approx(want.diff, rel=1e-9)
        assert row["absolute"]["se"] == pytest.approx(want.se, rel=1e-9)
        assert row["relative"]["se"] == pytest.approx(want.lift_se, rel=1e-9)


def test_reports_show_the_design_section(project: tuple[Path, Path], tmp_path: Path) -> None:
    specs, wh = project
    html = tmp_path / "report.html"
    code, out = invoke(
        "run", "tone_tuning", "-s", str(specs), "-w", f"duckdb:///{wh}", "--look", "3",
        "--html", str(html), "--no-segments",
    )  # fmt: skip
    assert code == 0, out
    assert "Design" in out and "chance to win" in out and "Look 3" in out
    assert "final look" in out and "group-sequential, 3 looks" in out
    page = html.read_text()
    assert 'id="designs"' in page and "chance to win" in page
    code, out = invoke(
        "run", "tone_tuning", "-s", str(specs), "-w", f"duckdb:///{wh}", "--format", "json"
    )
    designs = json.loads(out)["report"]["designs"]
    assert any(line.startswith("Bayesian rule") for line in designs)
    assert not any("latency" in line.lower() for line in designs)  # guardrails: frequentist
