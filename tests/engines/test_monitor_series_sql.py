"""The monitor series query (`pipeline.series_sql`) on every engine — DuckDB, PostgreSQL,
Spark, Snowflake SQL on fakesnow and BigQuery SQL on zetasql — equals the independent pandas
computation of `tests/sql/monitor_series_reference.py` on a small demo warehouse (counts
exactly, values, baselines, limits and deviations to 1e-9 relative), and on each engine its
windows in alert are exactly the rows of that engine's alert query.

The monitors are test-local variants that alert at this scale: a baseline rule (runs with a
frozen baseline), a z-score rule by a dimension, a threshold rule over a streak, and a
guardrail; windows below their minimum sample (gaps) occur in each monitor's series.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from harness.base import REPO_ROOT, Engine
from harness.generated_sql import answer, demo_tables

from metricspec.backends import get_backend
from metricspec.emit.monitor_series_sql import SERIES_COLUMNS
from metricspec.pipeline import compile_object, series_sql
from metricspec.semantic import Index
from metricspec.workspace import Workspace

sys.path.insert(0, str(REPO_ROOT / "tests" / "sql"))  # the pandas references live there

from monitor_reference import rule_of
from monitor_series_reference import series
from sql_reference import Tables, assert_same_rows

pytestmark = pytest.mark.engines

SCALE = 0.02
ENGINES = ("duckdb", "postgres", "snowflake", "spark", "bigquery")
DAY = (dt.datetime(2026, 11, 16), dt.datetime(2026, 11, 17))
RANGES = {"day": DAY, "from 14:30": (dt.datetime(2026, 11, 16, 14, 30), DAY[1])}
VARIANTS = """\
monitor csat_drop_small_n { metric csat; every 5 minutes; baseline trailing 1 hour
  alert when below baseline by 15%; min_n 15 }
monitor hallucination_by_channel { metric hallucination_rate; every 1 hour
  baseline trailing 6 hours; alert when zscore above 2; min_n 20; dimensions channel }
monitor retries_streak { metric retry_rate; every 30 minutes; alert when above 0.035
  for 2 windows; min_n 300 }
guardrail hallucination_ceiling_hourly = hallucination_rate <= 12% every 1 hour
"""
GAPPY = ("csat_drop_small_n", "hallucination_by_channel", "retries_streak")
MONITORS = ("csat_drop_small_n", "hallucination_by_channel", "retries_streak",
            "hallucination_ceiling_hourly")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, pa.Table], Tables]:
    path = tmp_path_factory.mktemp("monitor-series") / "demo.duckdb"
    tables = demo_tables(path, SCALE)
    with duckdb.connect(str(path), read_only=True) as con:
        return tables, Tables.load(con)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    specs = tmp_path_factory.mktemp("specs") / "specs"
    shutil.copytree(REPO_ROOT / "specs", specs)
    (specs / "series_variants.mspec").write_text(VARIANTS, encoding="utf-8")
    ws = Workspace.load(specs)
    assert ws.ok, ws.render()
    return ws.index


@pytest.fixture(scope="module", params=ENGINES)
def loaded(request: pytest.FixtureRequest, warehouse) -> Engine:  # type: ignore[no-untyped-def]
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    engine.load(warehouse[0])
    return engine


def _frame(engine: Engine, sql: str) -> pd.DataFrame:
    result = answer(engine, sql, get_backend(engine.name).sqlglot_dialect)
    frame = pd.DataFrame(result.records(), columns=list(result.columns))
    frame["period"] = pd.to_datetime(frame.period)
    return frame


@pytest.mark.parametrize("window", list(RANGES))
@pytest.mark.parametrize("name", MONITORS)
def test_series_equals_pandas_and_the_alerts(name: str, window: str, loaded: Engine,
                                             warehouse, index: Index) -> None:  # type: ignore[no-untyped-def]
    start, end = RANGES[window]
    compiled = compile_object(index, name, get_backend(loaded.name), start=start, end=end)
    actual = _frame(loaded, series_sql(compiled))
    rule = rule_of(index, name)
    keys = ["period", *rule.dims]
    assert list(actual.columns) == [*keys, *SERIES_COLUMNS[1:]]
    expected = series(warehouse[1], rule, start, end)
    assert len(expected) >= 5
    if name in GAPPY:
        assert (expected.judged == 0).any() and (expected.judged == 1).any(), "no gap"
    if window == "day":
        assert expected.alert.sum() > 0, f"{name} raises no alert at this scale"
    assert_same_rows(actual, expected, keys, exact={"sample_n", "judged", "baseline_windows",
                                                    "alert"}, columns=list(expected.columns))
    alerts = _frame(loaded, compiled.sql)
    flagged = actual.loc[actual.alert == 1, keys].reset_index(drop=True)
    assert_same_rows(flagged, alerts[keys], keys, columns=[])
