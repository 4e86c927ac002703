"""Regression adjustment with several covariates, end to end on DuckDB: the spec's
`covariates pre(m), unit.c` → the regression query's sums → the engine, equal to
statsmodels OLS (HC1) on unit rows built independently from the raw tables with pandas."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from typer.testing import CliRunner

from metricspec.analyze import regress_rows
from metricspec.cli import app
from metricspec.demo import generate
from metricspec.emit.experiment_regression import terms
from metricspec.plan.experiment import plan_experiment
from metricspec.plan.regression import plan_regression
from metricspec.run.connections import connect
from metricspec.run.execute import run_regression
from metricspec.stats.regression import monomials
from metricspec.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
EXPERIMENT = """
experiment adjusted_demo {
  unit user_id
  assignment assignments variant variant where experiment_id = 'summarizer_v2'
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary conversation_count
  secondary total_cost
  cuped 14 days
  covariates pre(conversation_count), unit.tenure_days
}
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    """A small demo warehouse whose assignments carry a numeric unit attribute, and the
    example specs plus one experiment adjusted for two covariates."""
    root = tmp_path_factory.mktemp("regression")
    database = root / "demo.duckdb"
    generate(database, scale=0.1)
    with duckdb.connect(str(database)) as con:
        con.execute("ALTER TABLE support.assignments ADD COLUMN tenure_days INTEGER")
        con.execute("UPDATE support.assignments SET tenure_days = "
                    "CAST(substr(user_id, 2) AS INTEGER) % 97 * 9")
    specs = root / "specs"
    shutil.copytree(REPO / "specs", specs)
    sources = specs / "sources.mspec"
    sources.write_text(sources.read_text().replace(
        "column experiment_id: string, variant: string",
        "column experiment_id: string, variant: string, tenure_days: integer"))
    (specs / "experiments" / "adjusted_demo.mspec").write_text(EXPERIMENT)
    ws = Workspace.load(specs)
    assert ws.ok, ws.render()
    return database, specs, ws


def _units(database: Path) -> pd.DataFrame:
    """Per exposed user: arm, conversations after exposure, in the pre-period, tenure."""
    with duckdb.connect(str(database), read_only=True) as con:
        exposures = con.execute("""
            SELECT user_id, min(variant) AS variant, min(assigned_ts) AS first,
                   any_value(tenure_days) AS tenure
            FROM support.assignments
            WHERE experiment_id = 'summarizer_v2' AND variant IN ('control', 'treatment')
              AND assigned_ts >= '2026-10-01' AND assigned_ts < '2026-10-15'
            GROUP BY user_id HAVING count(DISTINCT variant) = 1""").df()
        conversations = con.execute(
            "SELECT user_id, started_ts FROM support.conversations").df()
        cost = con.execute("SELECT user_id, ts, cost_usd FROM support.messages").df()
    merged = conversations.merge(exposures[["user_id", "first"]], on="user_id")
    post = merged[(merged.started_ts >= merged["first"])
                  & (merged.started_ts < pd.Timestamp("2026-10-15"))]
    pre = merged[(merged.started_ts >= pd.Timestamp("2026-09-17"))
                 & (merged.started_ts < pd.Timestamp("2026-10-01"))]
    spent = cost.merge(exposures[["user_id", "first"]], on="user_id")
    spent = spent[(spent.ts >= spent["first"]) & (spent.ts < pd.Timestamp("2026-10-15"))]
    out = exposures.set_index("user_id")
    out["y"] = post.groupby("user_id").size().reindex(out.index, fill_value=0)
    out["cost"] = spent.groupby("user_id").cost_usd.sum().reindex(out.index, fill_value=0.0)
    out["pre"] = pre.groupby("user_id").size().reindex(out.index, fill_value=0)
    return out


def test_the_sql_terms_are_the_engines_monomials() -> None:
    for names in (("a",), ("a", "b"), ("pre(x)", "unit.t", "z")):
        assert terms(names) == monomials(names, 4)


def test_adjusted_effects_equal_statsmodels_on_unit_rows(setup) -> None:
    database, _, ws = setup
    plan = plan_experiment(ws.index, "adjusted_demo")
    reg = plan_regression(ws.index, plan)
    assert reg is not None and reg.names == ("pre(conversation_count)", "unit.tenure_days")
    with connect(f"duckdb:///{database}") as conn:
        results = {r["metric"]: r for r in regress_rows(reg, run_regression(reg, conn))}
    units = _units(database)
    treat = (units.variant == "treatment").astype(float).to_numpy()
    x = units[["pre", "tenure"]].to_numpy(dtype=float)
    for metric, column in (("conversation_count", "y"), ("total_cost", "cost")):
        fit = sm.OLS(units[column].to_numpy(dtype=float),
                     np.column_stack([np.ones(len(units)), treat, x])).fit(cov_type="HC1")
        ols = results[metric]["ols"]
        assert ols.n_control + ols.n_treatment == len(units)
        assert ols.effect == pytest.approx(fit.params[1], rel=1e-8)
        assert ols.se == pytest.approx(fit.bse[1], rel=1e-8)
        assert ols.p_value == pytest.approx(fit.pvalues[1], rel=1e-8)
        assert ols.ci_lower == pytest.approx(fit.conf_int()[1][0], rel=1e-8)
        assert list(ols.theta) == pytest.approx(list(fit.params[2:]), rel=1e-8)
    assert results["conversation_count"]["ols"].variance_reduction > 0.3


def test_run_reports_the_adjusted_effects(setup) -> None:
    database, specs, _ = setup
    result = CliRunner().invoke(app, ["run", "adjusted_demo", "-s", str(specs), "-w",
                                      f"duckdb:///{database}", "--format", "json"])
    assert result.exit_code in (0, 4), result.output
    payload = json.loads(result.output[:result.output.rindex("}") + 1])
    adjusted = payload["report"]["adjusted"]
    assert [a["metric"] for a in adjusted] == ["conversation_count", "total_cost"]
    assert adjusted[0]["ols"]["method"] == "ols-HC1"
    assert adjusted[0]["covariates"] == ["pre(conversation_count)", "unit.tenure_days"]
    text = CliRunner().invoke(app, ["run", "adjusted_demo", "-s", str(specs), "-w",
                                    f"duckdb:///{database}", "--no-segments"]).output
    assert "Regression-adjusted" in text and "unit.tenure_days" in text


def test_units_exposed_before_the_window_are_counted(setup) -> None:
    """The demo logs no exposure before a window; here a few exposed users get one (this
    warehouse is this module's own copy, and the rows lie outside every window)."""
    from metricspec.analyze import diagnose_rows
    from metricspec.run.execute import run_daily

    database, _, ws = setup
    with duckdb.connect(str(database)) as con:
        con.execute("""
            INSERT INTO support.assignments
            SELECT experiment_id, user_id, variant, TIMESTAMP '2026-09-20 10:00', platform, 0
            FROM (SELECT * FROM support.assignments WHERE experiment_id = 'summarizer_v2'
                  ORDER BY user_id, assigned_ts LIMIT 40)""")
        expected = dict(con.execute("""
            WITH first AS (
              SELECT user_id, min(variant) AS variant FROM support.assignments
              WHERE experiment_id = 'summarizer_v2' AND variant IN ('control', 'treatment')
                AND assigned_ts >= '2026-10-01' AND assigned_ts < '2026-10-15'
              GROUP BY user_id HAVING count(DISTINCT variant) = 1)
            SELECT f.variant, count(DISTINCT f.user_id) FROM first f
            JOIN support.assignments a ON a.user_id = f.user_id
            WHERE a.experiment_id = 'summarizer_v2' AND a.assigned_ts < '2026-10-01'
            GROUP BY 1""").fetchall())
    assert sum(expected.values()) > 0
    plan = plan_experiment(ws.index, "summarizer_v2")
    with connect(f"duckdb:///{database}") as conn:
        diag = diagnose_rows(plan, run_daily(plan, conn))
    assert {v: n for v, n in diag.before_window.items() if n} == expected
    assert any("exposed before the window" in w for w in diag.warnings())


def test_one_pre_period_covariate_is_the_main_analysis_cuped(setup) -> None:
    """`covariates pre(m)` on the metric m itself: the CUPED-generalised estimate is the
    main analysis's CUPED, through two different queries."""
    from metricspec.analyze import analyze_rows
    from metricspec.run.execute import run_experiment

    database, specs, _ = setup
    (specs / "experiments" / "one_covariate.mspec").write_text(
        EXPERIMENT.replace("adjusted_demo", "one_covariate").replace(
            ", unit.tenure_days", "").replace("  secondary total_cost\n", ""))
    ws = Workspace.load(specs)
    assert ws.ok, ws.render()
    with connect(f"duckdb:///{database}") as conn:
        main = run_experiment(ws.index, "one_covariate", conn)
        reg = plan_regression(ws.index, main.plan)
        assert reg is not None
        [adjusted] = regress_rows(reg, run_regression(reg, conn))
    engine = analyze_rows(main.plan, main.rows).metric("conversation_count")
    cuped = adjusted["cuped"]
    assert cuped.theta[0] == pytest.approx(engine.cuped.theta, rel=1e-9)
    assert cuped.effect == pytest.approx(engine.absolute.estimate, rel=1e-9)
    assert cuped.se == pytest.approx(engine.absolute.se, rel=1e-9)
    assert cuped.variance_reduction == pytest.approx(engine.cuped.variance_reduction, rel=1e-9)
