"""The daily diagnostics query on the demo warehouse (DuckDB), against the main experiment
query and against independent computations from the raw tables (pandas), and the planted
novelty effect and undeclared variant as the report shows them."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import duckdb
import numpy as np
import pytest
from typer.testing import CliRunner

from metricspec.analyze import analyze_rows, diagnose_rows
from metricspec.cli import app
from metricspec.emit.experiment_daily import daily_bases
from metricspec.run.connections import connect
from metricspec.run.execute import run_daily, run_experiment
from metricspec.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
SUMS = ("n", "sum_x", "sum_x2", "sum_y", "sum_y2", "sum_xy")


@pytest.fixture(scope="module")
def runs(demo_database: Path, workspace: Workspace):
    out = {}
    with connect(f"duckdb:///{demo_database}") as conn:
        for name in sorted(workspace.index.experiments):
            main = run_experiment(workspace.index, name, conn)
            out[name] = (main, run_daily(main.plan, conn))
    return out


def _kind(rows, kind):
    return [r for r in rows if r["kind"] == kind]


def test_the_last_cumulative_day_is_the_main_query(runs) -> None:
    checked = 0
    for main, daily in runs.values():
        last = max(r["day"] for r in _kind(daily, "cumulative"))
        units = {r["variant"]: r["n"] for r in main.rows
                 if r["metric"] == "__units__" and r["segment"] == "all"}
        per_day = defaultdict(int)
        for r in _kind(daily, "exposures"):
            per_day[r["variant"]] += r["n"]
        assert dict(per_day) == {v: n for v, n in units.items() if v != "__multiple__"}
        for base in daily_bases(main.plan):
            assert base.winsorize is None
            for r in _kind(daily, "cumulative"):
                if r["day"] != last or r["metric"] != base.name:
                    continue
                [m] = [x for x in main.rows if x["metric"] == base.name and x["segment"] == "all"
                       and x["variant"] == r["variant"] and x["metric_2"] is None]
                for column in SUMS:
                    if m[column] is None:  # a metric without that part (no y, say)
                        assert r[column] is None, column
                        continue
                    assert r[column] == pytest.approx(m[column], rel=1e-12), column
                novelty = sum(x["sum_x"] for x in _kind(daily, "novelty")
                              if x["metric"] == base.name and x["variant"] == r["variant"])
                assert novelty == pytest.approx(r["sum_x"], rel=1e-12)
                checked += 1
    assert checked >= 6  # csat in three experiments, hallucination_rate, both arms


def test_novelty_sums_equal_pandas_on_the_raw_tables(runs, demo_database: Path) -> None:
    """csat = thumbs up / thumbs given, per user per calendar day since first exposure,
    computed from the raw rows with another formulation (date arithmetic, pandas)."""
    _main, daily = runs["summarizer_v2"]
    con = duckdb.connect(str(demo_database), read_only=True)
    exposures = con.execute("""
        WITH a AS (SELECT user_id, variant, assigned_ts FROM support.assignments
                   WHERE experiment_id = 'summarizer_v2' AND variant IN ('control', 'treatment')
                     AND assigned_ts >= '2026-10-01' AND assigned_ts < '2026-10-15')
        SELECT user_id, min(variant) AS variant, min(assigned_ts) AS first
        FROM a GROUP BY user_id HAVING count(DISTINCT variant) = 1""").df()
    feedback = con.execute("""
        SELECT user_id, ts, thumbs FROM support.feedback
        WHERE ts >= '2026-10-01' AND ts < '2026-10-15' AND thumbs IS NOT NULL""").df()
    con.close()
    start = np.datetime64("2026-10-01")
    exposures["first_day"] = (exposures["first"].values.astype("datetime64[D]") - start).astype(int)
    events = feedback.merge(exposures, on="user_id")
    events = events[events["ts"] >= events["first"]]
    events["d"] = (events["ts"].values.astype("datetime64[D]") - start).astype(int) - events[
        "first_day"]
    events["up"] = (events["thumbs"] == "up").astype(int)
    per_unit = events.groupby(["user_id", "d"]).agg(x=("up", "sum"), y=("up", "size"))
    assert len(_kind(daily, "novelty")) == 28  # 14 days since exposure × 2 arms
    for r in _kind(daily, "novelty"):
        units = exposures[(exposures["variant"] == r["variant"])
                          & (exposures["first_day"] + r["day"] <= 13)]
        assert r["n"] == len(units)
        values = per_unit.reset_index()
        values = values[(values["d"] == r["day"]) & values["user_id"].isin(units["user_id"])]
        assert r["sum_x"] == values["x"].sum()
        assert r["sum_x2"] == (values["x"] ** 2).sum()
        assert r["sum_y"] == values["y"].sum()
        assert r["sum_xy"] == (values["x"] * values["y"]).sum()


def test_undeclared_variants_and_early_exposures_are_counted(runs, demo_database: Path) -> None:
    main, daily = runs["prompt_template_v3"]
    con = duckdb.connect(str(demo_database), read_only=True)
    [(hand,)] = con.execute("""
        SELECT count(DISTINCT user_id) FROM support.assignments
        WHERE experiment_id = 'prompt_template_v3' AND variant NOT IN ('control', 'treatment')
          AND assigned_ts >= '2026-10-15' AND assigned_ts < '2026-10-29'""").fetchall()
    by_day = con.execute("""
        SELECT date_diff('day', DATE '2026-10-15', assigned_ts::DATE), count(DISTINCT user_id)
        FROM support.assignments
        WHERE experiment_id = 'prompt_template_v3' AND variant = 'treatment_hotfix'
        GROUP BY 1 ORDER BY 1""").fetchall()
    con.close()
    assert hand > 0
    [total] = _kind(daily, "unknown_total")
    assert (total["variant"], total["n"]) == ("treatment_hotfix", hand)
    assert [(r["day"], r["n"]) for r in _kind(daily, "unknown")] == by_day
    assert min(d for d, _ in by_day) == 7  # the deploy on 2026-10-22
    assert _kind(daily, "before") == []  # the demo logs no exposure before a window
    diag = diagnose_rows(main.plan, daily)
    assert diag.srm_with_unknown == "failed" and diag.first_unknown_day == 7


def test_the_demo_report_shows_the_novelty_and_the_undeclared_variant(
        demo_database: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["run", "summarizer_v2", "-s", str(REPO / "specs"), "-w",
                                 f"duckdb:///{demo_database}", "--no-segments"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("Sample ratio") < out.index("Diagnostics") < out.index("Metrics")
    assert "novelty: the csat effect of treatment fades" in out
    result = runner.invoke(app, ["run", "prompt_template_v3", "-s", str(REPO / "specs"), "-w",
                                 f"duckdb:///{demo_database}", "--format", "json"])
    payload = json.loads(result.output[:result.output.rindex("}") + 1])
    diagnostics = payload["report"]["diagnostics"]
    assert diagnostics["unknown_variants"] == {"treatment_hotfix": pytest.approx(150, abs=60)}
    assert diagnostics["first_unknown_date"] == "2026-10-22"
    assert any("treatment_hotfix" in w and "2026-10-22" in w for w in diagnostics["warnings"])
    points = diagnostics["metrics"][0]["cumulative"]
    assert [p["date"] for p in points][:2] == ["2026-10-15", "2026-10-16"]
    assert all(p["ci_low"] < p["lift"] < p["ci_high"] for p in points)
    assert all(set(p["n"]) == {"control", "treatment"} for p in points)


def test_aa_and_srm_experiments(runs) -> None:
    main, daily = runs["greeting_aa"]
    aa = diagnose_rows(main.plan, daily, analyze_rows(main.plan, main.rows))
    assert aa.warnings() == ()
    main, daily = runs["tone_tuning"]
    tone = diagnose_rows(main.plan, daily)
    assert tone.first_flagged_day is not None
    assert all(d.observed["treatment"] < d.observed["control"] for d in tone.by_day if d.flagged)
