"""The regression-adjustment query (emit/experiment_regression.py) gives DuckDB's answer on
PostgreSQL, Spark, Snowflake SQL on fakesnow and BigQuery SQL on zetasql, on a small demo
warehouse whose assignments carry a numeric unit attribute: counts to the bit, sums of
products of money amounts to 1e-9 relative.

Spark and zetasql take the longest (the query has 128 branches over one CTE), so each gets a
worker thread at the start of the module that loads the warehouse and runs its query while
the other engines' tests run (``slow_engines_in_background``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pytest
from harness.background import Background
from harness.base import REPO_ROOT, Engine
from harness.generated_sql import DEMO_TABLES, Answer, answer, assert_answers_match

from metricspec.backends import get_backend
from metricspec.demo import generate
from metricspec.emit.experiment_regression import regression_sql
from metricspec.emit.render import render_sql
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.plan.experiment import plan_experiment
from metricspec.plan.regression import RegressionPlan, plan_regression
from metricspec.workspace import Workspace

pytestmark = pytest.mark.engines

SCALE = 0.02
OTHERS = ("postgres", "snowflake", "spark", "bigquery")
#: Engines driven from worker threads (both work outside the GIL), by engine name.
IN_BACKGROUND = ("spark", "bigquery")
BACKGROUNDS: dict[str, Background] = {}
KEY = ("metric", "term", "variant")
EXPERIMENT = """
experiment adjusted_demo {
  unit user_id
  assignment assignments variant variant where experiment_id = 'summarizer_v2'
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary conversation_count
  secondary total_cost
  cuped 14 days
  covariates pre(conversation_count), pre(total_cost), unit.tenure_days
}
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, pa.Table], RegressionPlan]:
    root = tmp_path_factory.mktemp("regression_sql")
    path = root / "demo.duckdb"
    generate(path, scale=SCALE)
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE support.assignments ADD COLUMN tenure_days INTEGER")
        con.execute("UPDATE support.assignments SET tenure_days = "
                    "CAST(substr(user_id, 2) AS INTEGER) % 97 * 9")
        tables = {f"support.{name}": con.sql(f"SELECT * FROM support.{name}").to_arrow_table()
                  for name in DEMO_TABLES}
    specs = root / "specs"
    shutil.copytree(REPO_ROOT / "specs", specs)
    sources = specs / "sources.mspec"
    sources.write_text(sources.read_text().replace(
        "column experiment_id: string, variant: string",
        "column experiment_id: string, variant: string, tenure_days: integer"))
    (specs / "experiments" / "adjusted_demo.mspec").write_text(EXPERIMENT)
    ws = Workspace.load(specs)
    assert ws.ok, ws.render()
    reg = plan_regression(ws.index, plan_experiment(ws.index, "adjusted_demo"))
    assert reg is not None
    return tables, reg


def _sql(reg: RegressionPlan, backend: str) -> str:
    target = get_backend(backend)
    return render_sql(regression_sql(reg, SqlBuilder(target)), target,
                      kind="experiment regression", name="adjusted_demo", files=reg.plan.files)


def _answer(engine: Engine, sql: str) -> Answer:
    return answer(engine, sql, get_backend(engine.name).sqlglot_dialect)


@pytest.fixture(scope="module", autouse=True)
def slow_engines_in_background(request: pytest.FixtureRequest, setup) -> Iterator[None]:
    """Start Spark and zetasql loading and running the regression query in worker threads,
    for the engines whose test of it was selected."""
    mine = [i for i in request.session.items if getattr(i, "module", None) is request.module]
    selected = {getattr(getattr(i, "callspec", None), "params", {}).get("loaded") for i in mine
                if i.originalname == "test_regression_sums_match_duckdb"}
    for name in IN_BACKGROUND:
        if name not in selected:
            continue
        try:
            engine: Engine = request.getfixturevalue(f"{name}_engine")
        except (pytest.skip.Exception, pytest.fail.Exception):
            continue  # its tests get the engine's skip (or failure) when they ask for it
        BACKGROUNDS[name] = Background(engine, setup[0])
        sql = _sql(setup[1], name)
        BACKGROUNDS[name].submit(sql, _answer, engine, sql)
    try:
        yield
    finally:
        for background in BACKGROUNDS.values():
            background.close()
        BACKGROUNDS.clear()


@pytest.fixture(scope="module")
def reference(duckdb_engine: Engine, setup) -> Engine:
    duckdb_engine.load(setup[0])
    return duckdb_engine


@pytest.fixture(scope="module", params=OTHERS)
def loaded(request: pytest.FixtureRequest, setup, reference: Engine) -> Engine:
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    background = BACKGROUNDS.get(request.param)
    if background is not None and background.engine is engine:
        background.loaded.result()
    else:
        engine.load(setup[0])
    return engine


def test_regression_sums_match_duckdb(loaded: Engine, reference: Engine, setup) -> None:
    reg = setup[1]
    expected = answer(reference, _sql(reg, "duckdb"), "duckdb")
    assert len(expected.rows) == 2 * 2 * 64  # metrics × variants × degree-4 monomials of 3
    sql = _sql(reg, loaded.name)
    background = BACKGROUNDS.get(loaded.name)
    if background is not None and background.engine is loaded:
        actual = background.result(sql, _answer, loaded, sql)
    else:
        actual = _answer(loaded, sql)
    assert_answers_match(actual, expected, KEY, label=f"adjusted_demo on {loaded.name}")


def test_history_regression_sums_match_duckdb(loaded: Engine, reference: Engine, setup) -> None:
    """The same query over a historical window, as `metricspec plan --warehouse` runs it
    for the adjusted sample size: one population, attributes from rows of any variant.
    Its SQL has the shape of the experiment's, which the test above runs on every engine;
    on Spark and zetasql (six minutes between them) it is not run a second time."""
    if loaded.name in ("spark", "bigquery"):
        pytest.skip("same SQL shape as test_regression_sums_match_duckdb, run there on "
                    f"{loaded.name}")
    import datetime as dt
    from dataclasses import replace

    from metricspec.plan.experiment import history_plan

    reg = setup[1]
    start = dt.datetime(2026, 10, 1)
    history = replace(reg, plan=history_plan(reg.plan, start, start + dt.timedelta(days=7)))
    expected = answer(reference, _sql(history, "duckdb"), "duckdb")
    assert len(expected.rows) == 2 * 64  # metrics × one population × monomials
    tenure = [r["value"] for r in expected.records() if r["term"] == "unit.tenure_days"]
    assert len(tenure) == 2 and min(tenure) > 0  # attributes found without a variant filter
    actual = answer(loaded, _sql(history, loaded.name), get_backend(loaded.name).sqlglot_dialect)
    assert_answers_match(actual, expected, KEY, label=f"adjusted_demo history on {loaded.name}")
