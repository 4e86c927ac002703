"""The daily diagnostics query (emit/experiment_daily.py) gives DuckDB's answer on every
engine: PostgreSQL, Spark, Snowflake SQL on fakesnow and BigQuery SQL on zetasql, for every
example experiment, on a small demo warehouse (which has the planted undeclared variant).

Every number in these rows is a count or a sum of counts, equal to the bit, except on the
`trend` rows: Σu (zero up to rounding, not compared) and Σu² (1e-9 relative).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from harness.base import REPO_ROOT, Engine
from harness.generated_sql import DEMO_SCALE, Answer, answer, assert_answers_match

from metricspec.backends import get_backend
from metricspec.emit.experiment_daily import DAILY_COLUMNS, daily_sql
from metricspec.emit.render import render_sql
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.plan.experiment import plan_experiment
from metricspec.semantic import Index
from metricspec.workspace import Workspace

pytestmark = pytest.mark.engines

SCALE = DEMO_SCALE
EXPERIMENTS = ("summarizer_v2", "prompt_template_v3", "greeting_aa", "tone_tuning")
OTHERS = ("postgres", "snowflake", "spark", "bigquery")
KEY = ("kind", "metric", "day", "segment", "segment_value", "variant")
NUMBERS = tuple(c for c in DAILY_COLUMNS if c.startswith("sum_"))


@pytest.fixture(scope="module")
def tables(demo_warehouse: tuple[Path, dict[str, pa.Table]]) -> dict[str, pa.Table]:
    """The session's demo warehouse (``SCALE``), shared with test_generated_sql."""
    return demo_warehouse[1]


@pytest.fixture(scope="module")
def index() -> Index:
    ws = Workspace.load(REPO_ROOT / "specs")
    assert ws.ok, ws.render()
    return ws.index


def _sql(index: Index, name: str, backend: str) -> str:
    plan = plan_experiment(index, name)
    target = get_backend(backend)
    return render_sql(daily_sql(plan, SqlBuilder(target)), target, kind="experiment diagnostics",
                      name=name, files=plan.files)


@pytest.fixture(scope="module")
def reference(duckdb_engine: Engine, tables: dict[str, pa.Table]) -> Engine:
    duckdb_engine.load(tables)
    return duckdb_engine


@pytest.fixture(scope="module", params=OTHERS)
def loaded(request: pytest.FixtureRequest, tables: dict[str, pa.Table],
           reference: Engine) -> Engine:
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    engine.load(tables)
    return engine


def test_the_small_warehouse_has_every_kind_of_row(reference: Engine, index: Index) -> None:
    kinds: set[str] = set()
    for name in EXPERIMENTS:
        rows = answer(reference, _sql(index, name, "duckdb"), "duckdb").records()
        kinds |= {r["kind"] for r in rows}
    assert kinds >= {"exposures", "segment", "unknown", "unknown_total", "novelty",
                     "cumulative"}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_daily_rows_match_duckdb(name: str, loaded: Engine, reference: Engine,
                                 index: Index) -> None:
    expected = answer(reference, _sql(index, name, "duckdb"), "duckdb")
    dialect = get_backend(loaded.name).sqlglot_dialect
    actual = answer(loaded, _sql(index, name, loaded.name), dialect)
    assert expected.rows
    label = f"{name} on {loaded.name}"
    for trend in (False, True):
        a, e = (Answer(x.columns, tuple(r for r in x.rows if (r[0] == "trend") == trend))
                for x in (actual, expected))
        if trend:
            assert e.rows, "no trend rows"
            assert_answers_match(a, e, KEY, skip={"sum_x"}, label=label)
        else:
            assert_answers_match(a, e, KEY, exact=NUMBERS, label=label)


def test_sql_is_deterministic(index: Index, tmp_path: Path) -> None:
    for backend in ("duckdb", *OTHERS):
        assert _sql(index, "summarizer_v2", backend) == _sql(index, "summarizer_v2", backend)
