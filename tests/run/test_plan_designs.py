"""Plans that warn, and the design sections of the analysis plan (JSON and Markdown).

The warnings are structured (`code`, `message`); each is provoked here by a spec on the demo
warehouse whose history is queried for real on DuckDB. The sequential sample sizes are the
fixed-horizon ones times the inflation the statistics engine computes (checked by simulation
in tests/stats/test_stats_power_sequential.py and test_stats_group_sequential.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metricspec.cli import app
from metricspec.demo.generate import generate
from metricspec.stats.group_sequential import Spending, boundaries, inflation

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

TONE = """experiment tone_tuning "Warmer tone in answers" {{
  unit user_id
  assignment assignments variant variant where experiment_id = 'tone_tuning'
  variants control 50% control, treatment 50%
  window {window}
  primary csat
  secondary ces
  guardrail latency_p95 max_increase 10%
  correction holm
  {extra}
}}
"""


def specs_with(root: Path, window: str, extra: str) -> Path:
    specs = root / "specs"
    if specs.exists():
        shutil.rmtree(specs)
    shutil.copytree(REPO / "specs", specs)
    (specs / "experiments" / "tone_tuning.mspec").write_text(
        TONE.format(window=window, extra=extra)
    )
    return specs


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "small.duckdb"
    generate(path, scale=0.05)
    return path


def plan(specs: Path, *extra: str) -> tuple[dict, str]:
    args = ["plan", "tone_tuning", "-s", str(specs), *extra]
    as_json = runner.invoke(app, [*args, "-f", "json"])
    as_md = runner.invoke(app, args)
    assert as_json.exit_code == 0 and as_md.exit_code == 0, as_json.output + as_md.output
    return json.loads(as_json.output), as_md.output


def codes(doc: dict) -> set[str]:
    return {w["code"] for w in doc["warnings"]}


def test_window_too_short_and_mde_too_small(small: Path, tmp_path: Path) -> None:
    extra = (
        "mde 2% relative; analysis bayesian; sequential looks 3 spending obrien_fleming; "
        "stratify platform"
    )
    specs = specs_with(tmp_path, "2026-10-15 .. 2026-10-28", extra + "; traffic 900 per day")
    doc, md = plan(specs, "-w", f"duckdb:///{small}")
    assert {"sample_exceeds_window", "mde_below_detectable"} <= codes(doc)
    for w in doc["warnings"]:
        assert set(w) == {"code", "message"} and w["message"]
    assert "## Warnings" in md and "sample\\_exceeds\\_window" in md
    csat = next(m for m in doc["metrics"] if m["name"] == "csat")["power"]
    available = doc["baselines"]["units_in_window"]
    assert csat["sequential"]["total_units"] > available
    # the design section: boundaries at α/m (Holm over 2 tests → Bonferroni split of α)
    gs = doc["analysis"]["group_sequential"]
    want = boundaries([1 / 3, 2 / 3, 1.0], 0.025, Spending.OBRIEN_FLEMING)
    assert [b["boundary"] for b in gs["boundaries"]] == pytest.approx(want, rel=1e-12)
    assert gs["boundaries"][-1]["alpha_spent"] == pytest.approx(0.025, rel=1e-9)
    r = inflation([1 / 3, 2 / 3, 1.0], 0.025, 0.8, Spending.OBRIEN_FLEMING)
    assert csat["sequential"]["inflation"] == pytest.approx(r, rel=1e-12)
    for v, n in csat["sequential"]["n_per_variant"].items():
        assert n == pytest.approx(csat["exact_per_variant"][v] * r, abs=1.0)
    assert "| 3 | 100% | " in md and "boundary" in md
    assert "chance to beat control" in doc["analysis"]["bayesian"]["rule"]
    assert any("Bayesian readouts decide" in rule for rule in doc["decision_rules"])
    assert any("Group-sequential looks" in rule for rule in doc["decision_rules"])
    assert doc["analysis"]["sequential"] is False  # a group-sequential design, not a sequence
    assert doc["design"]["strata"]["dimension"] == "platform"
    assert "| Post-stratification | by `platform`" in md


def test_history_missing_with_a_warehouse(small: Path, tmp_path: Path) -> None:
    # a window long before the demo data: the history query runs and returns nobody
    specs = specs_with(tmp_path, "2020-01-15 .. 2020-01-28", "mde 5% relative")
    doc, md = plan(specs, "-w", f"duckdb:///{small}")
    assert "history_missing" in codes(doc)
    assert "no history" in md


def test_traffic_unknown_without_warehouse_or_traffic(tmp_path: Path) -> None:
    # declared baselines size the sample, but nothing says how many units will come
    specs = specs_with(tmp_path, "2026-10-15 .. 2026-10-28", "mde 5% relative")
    (specs / "declared.mspec").write_text(
        "metric sized = count(feedback where thumbs = 'up') / count(feedback) "
        "{ direction up; baseline mean 0.8 sd 0.4 }\n"
    )
    path = specs / "experiments" / "tone_tuning.mspec"
    path.write_text(path.read_text().replace("secondary ces", "secondary ces, sized"))
    doc, md = plan(specs)
    sized = next(m for m in doc["metrics"] if m["name"] == "sized")["power"]
    assert sized["total_units"] > 0
    traffic = [w for w in doc["warnings"] if w["code"] == "traffic_unknown"]
    assert [w["message"].split(":")[0] for w in traffic] == ["sized"]
    assert "traffic\\_unknown" in md


def test_confidence_sequence_power_is_inflated(small: Path, tmp_path: Path) -> None:
    specs = specs_with(
        tmp_path, "2026-10-15 .. 2026-10-28", "mde 10% relative; sequential; traffic 900 per day"
    )
    doc, md = plan(specs, "-w", f"duckdb:///{small}")
    csat = next(m for m in doc["metrics"] if m["name"] == "csat")["power"]
    seq = csat["sequential"]
    assert seq["method"].startswith("confidence sequence")
    assert 1.5 < seq["inflation"] < 3.0
    assert seq["total_units"] > csat["total_units"]
    assert "Sequential design (confidence sequence" in md


def test_plans_without_designs_have_no_design_sections() -> None:
    result = runner.invoke(app, ["plan", "summarizer_v2", "-s", str(REPO / "specs"), "-f", "json"])
    doc = json.loads(result.output)
    assert doc["analysis"]["group_sequential"] is None and doc["analysis"]["bayesian"] is None
    assert doc["design"]["strata"] is None
    assert isinstance(doc["warnings"], list)
