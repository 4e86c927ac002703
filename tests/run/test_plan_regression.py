"""Power for the multi-covariate adjustment, end to end on DuckDB: `metricspec plan
--warehouse` runs the regression query over the historical window; the R² it reports for
each adjusted metric equals statsmodels' OLS R² on unit rows rebuilt independently from the
raw tables with pandas, and the adjusted sample is n·(1 − R²) with the slope inflation."""

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

from metricspec.cli import app
from metricspec.demo import generate

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = """
experiment adjusted_late {
  unit user_id
  assignment assignments variant variant where experiment_id = 'summarizer_v2'
  variants control 50% control, treatment 50%
  window 2026-10-08 .. 2026-10-14
  primary conversation_count
  secondary total_cost
  mde 5% relative
  cuped 14 days
  covariates pre(conversation_count), unit.tenure_days
}
experiment adjusted_early {
  unit user_id
  assignment assignments variant variant where experiment_id = 'summarizer_v2'
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary conversation_count
  mde 5% relative
  cuped 14 days
  covariates pre(conversation_count), unit.tenure_days
}
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small demo warehouse whose assignments carry a numeric unit attribute, and the
    example specs plus two experiments adjusted for two covariates."""
    root = tmp_path_factory.mktemp("plan_regression")
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
    (specs / "experiments" / "adjusted.mspec").write_text(EXPERIMENTS)
    return database, specs


def _plan(database: Path, specs: Path, name: str, fmt: str = "json") -> str:
    result = CliRunner().invoke(app, ["plan", name, "--spec-dir", str(specs), "--format", fmt,
                                      "--warehouse", f"duckdb:///{database}"])
    assert result.exit_code == 0, result.output
    return result.stdout


def _history_units(database: Path) -> pd.DataFrame:
    """The 7 days before 2026-10-08: every user with a conversation or a message counts;
    y and cost over those days, conversations over the 14 days before them, tenure from
    the user's first assignment row of the experiment in those days (any variant), else 0."""
    start, end = pd.Timestamp("2026-10-01"), pd.Timestamp("2026-10-08")
    with duckdb.connect(str(database), read_only=True) as con:
        conversations = con.execute(
            "SELECT user_id, started_ts FROM support.conversations").df()
        messages = con.execute("SELECT user_id, ts, cost_usd FROM support.messages").df()
        assignments = con.execute(
            "SELECT user_id, assigned_ts, variant, tenure_days FROM support.assignments "
            "WHERE experiment_id = 'summarizer_v2'").df()
    in_window = conversations[(conversations.started_ts >= start)
                              & (conversations.started_ts < end)]
    spent = messages[(messages.ts >= start) & (messages.ts < end)]
    users = sorted(set(in_window.user_id.dropna()) | set(spent.user_id.dropna()))
    out = pd.DataFrame(index=pd.Index(users, name="user_id"))
    out["y"] = in_window.groupby("user_id").size().reindex(out.index, fill_value=0)
    out["cost"] = spent.groupby("user_id").cost_usd.sum().reindex(out.index, fill_value=0.0)
    pre = conversations[(conversations.started_ts >= start - pd.Timedelta(days=14))
                        & (conversations.started_ts < start)]
    out["pre"] = pre.groupby("user_id").size().reindex(out.index, fill_value=0)
    rows = assignments[(assignments.assigned_ts >= start) & (assignments.assigned_ts < end)]
    first = rows.sort_values(["assigned_ts", "variant"]).groupby("user_id").first()
    out["tenure"] = first.tenure_days.reindex(out.index).fillna(0.0)
    return out


def test_r_squared_equals_statsmodels_on_history_unit_rows(setup) -> None:
    database, specs = setup
    doc = json.loads(_plan(database, specs, "adjusted_late"))
    units = _history_units(database)
    assert units.tenure.std() > 0  # the attribute is known for part of the history
    x = np.column_stack([np.ones(len(units)), units[["pre", "tenure"]].to_numpy(float)])
    metrics = {m["name"]: m for m in doc["metrics"]}
    for name, column in (("conversation_count", "y"), ("total_cost", "cost")):
        fit = sm.OLS(units[column].to_numpy(float), x).fit()
        reg = metrics[name]["power"]["regression"]
        assert reg["covariates"] == ["pre(conversation_count)", "unit.tenure_days"]
        assert reg["history_units"] == len(units)
        assert reg["r_squared"] == pytest.approx(fit.rsquared, rel=1e-8)
    power = metrics["conversation_count"]["power"]
    reg = power["regression"]
    assert 0.05 < reg["r_squared"] < 1.0
    # the unadjusted sample undoes CUPED's factor; the adjusted one is n·(1 − R²)·inflation
    cuped = power["variance_reduction"]
    for variant, exact in power["exact_per_variant"].items():
        unadjusted = exact / (1.0 - cuped)
        n_total = sum(reg["exact_per_variant"].values())
        inflation = 1.0 + 2 / (n_total - 2 - 3)
        assert reg["exact_per_variant"][variant] == pytest.approx(
            unadjusted * (1.0 - reg["r_squared"]) * inflation, rel=1e-9)
        assert reg["unadjusted_per_variant"][variant] >= power["n_per_variant"][variant]
    assert reg["slope_inflation"] == pytest.approx(inflation, rel=1e-9)
    factor = sum(reg["exact_per_variant"].values()) / sum(power["exact_per_variant"].values())
    assert reg["duration_days"] == pytest.approx(power["duration_days"] * factor, rel=1e-9)
    assert doc["baselines"]["regression"]["covariates"] == reg["covariates"]
    assert not [w for w in doc["warnings"] if w["code"] == "covariate_history_missing"]


def test_markdown_shows_the_adjusted_sample_beside_the_others(setup) -> None:
    database, specs = setup
    doc = json.loads(_plan(database, specs, "adjusted_late"))
    text = _plan(database, specs, "adjusted_late", "md")
    reg = doc["metrics"][0]["power"]["regression"]
    line = next(x for x in text.splitlines() if "Regression adjustment for" in x)
    assert "`pre(conversation_count)`, `unit.tenure_days`" in line
    line = line.replace("\\", "")  # Markdown escapes
    assert f"R² = {reg['r_squared']:.4f}" in line
    assert f"**{max(reg['n_per_variant'].values()):,} units per variant**" in line
    assert f"instead of {max(reg['unadjusted_per_variant'].values()):,} unadjusted" in line
    assert f"and {max(doc['metrics'][0]['power']['n_per_variant'].values()):,} with CUPED" in line
    assert "Caveat:" in line


def test_a_covariate_without_history_is_warned(setup) -> None:
    """Before 2026-10-01 the experiment's assignment rows do not exist: the attribute is 0
    for every historical unit, which the plan says instead of silently counting on it."""
    database, specs = setup
    doc = json.loads(_plan(database, specs, "adjusted_early"))
    codes = [(w["code"], w["message"]) for w in doc["warnings"]]
    assert any(c == "covariate_history_missing" and "unit.tenure_days is constant" in m
               for c, m in codes), codes
    reg = doc["metrics"][0]["power"]["regression"]
    assert reg["r_squared"] > 0.0  # the pre-period covariate still explains something
    text = _plan(database, specs, "adjusted_early", "md")
    assert "**covariate\\_history\\_missing**: conversation\\_count: covariate unit.tenure" in text
