"""The SQL metricspec generates gives DuckDB's answer on every engine (issues 3 and 5).

One small demo warehouse (``SCALE``) is generated once and loaded once into each engine;
zetasql and Spark load and run their queries in worker threads while the other engines'
tests run (``slow_engines_in_background``). For every example experiment, metric source
group, a few metric queries with a grain and a dimension, the monitors, guardrails and the
KPI reconciliation, the query compiled for each dialect runs on its engine (DuckDB SQL on
DuckDB, PostgreSQL SQL on PostgreSQL, Spark SQL on Spark, Snowflake SQL on fakesnow,
BigQuery SQL on zetasql after its analyzer accepted it) and is compared with DuckDB's
answer, row by row on its key:

- counts exactly — integer columns, and in the experiments' long format (where every sum
  is a DOUBLE) every sum of integer-valued components, to the bit;
- other sums, means and ratios to 1e-9 relative;
- percentiles: the experiments' ``q``, ``q_lower``, ``q_upper`` come from ``ROW_NUMBER``
  ranks on every engine, so they must be equal to the bit; metric queries use each
  warehouse's exact percentile function (1e-9 relative), except BigQuery's
  ``APPROX_QUANTILES``, whose value must be a sample value within ±1 percentile point of
  the exact rank (between DuckDB's sample values at ranks ⌊(n−1)(q−0.01)⌋ and
  ⌈(n−1)(q+0.01)⌉ of the same group; see ``harness.generated_sql.rank_bounds_sql``).

The monitors that alert on nothing at this scale (``min_n`` above the small warehouse's
traffic, or thresholds its data never crosses) also run as test-local variants
(``VARIANTS``) that do alert, so the comparison is not vacuous. Finally every query of
``specs/`` must be accepted by zetasql's analyzer as BigQuery SQL and parse back with
sqlglot in its own dialect, and ``metricspec run`` on PostgreSQL (the Python API and the
CLI's JSON) gives the DuckDB run's analysis (issue 5).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from harness.background import Background
from harness.base import REPO_ROOT, Engine
from harness.compare import same
from harness.generated_sql import (
    DEMO_SCALE,
    Answer,
    answer,
    assert_answers_match,
    output_columns,
    rank_bounds_sql,
)
from typer.testing import CliRunner

from metricspec.analyze import analyze_rows
from metricspec.backends import get_backend
from metricspec.cli import app
from metricspec.emit.experiment_stats import TEXT_COLUMNS
from metricspec.pipeline import Compiled, compile_all, compile_object, metric_groups
from metricspec.plan.experiment import BaseMetric, ExperimentPlan, plan_experiment
from metricspec.plan.lower import Measure
from metricspec.plan.metric_query import Grain
from metricspec.run.connections import connect
from metricspec.run.execute import run_experiment
from metricspec.semantic import Index
from metricspec.workspace import Workspace

pytestmark = pytest.mark.engines

#: Demo warehouse size: 240 users, ~46,000 messages (~32,000 on the monitoring day), and
#: 65-94 units per arm of each experiment with 450+ assistant answers per arm. zetasql's
#: evaluator needs ~1 s per 10,000 messages a query reads, and it sets the module's pace.
SCALE = DEMO_SCALE
ENGINES = ("duckdb", "postgres", "spark", "snowflake", "bigquery")
#: In test order: the engines that work in the background (Spark, zetasql) come last.
OTHERS = ("postgres", "snowflake", "spark", "bigquery")
EXPERIMENTS = ("summarizer_v2", "prompt_template_v3", "greeting_aa", "tone_tuning",
               "checkout_nudge")
MONITORING_DAY = (dt.datetime(2026, 11, 16), dt.datetime(2026, 11, 17))
#: BigQuery's approximate percentile may be off by this many quantile levels (±1 point).
APPROX_LEVELS = 0.01
SPECS = REPO_ROOT / "specs"

#: Monitors that alert at this scale, added to a copy of specs/ for this module.
VARIANTS = """\
# csat_drop with a min_n the small warehouse reaches (~24 thumbs per 5 minutes, not 300)
monitor csat_drop_small_n {
  metric csat
  every 5 minutes
  baseline trailing 1 hour
  alert when below baseline by 15%
  min_n 15
}
# slow_answers and latency_budget with thresholds the incident hour crosses
monitor slow_answers_low {
  metric latency_p95
  every 1 hour
  alert when above 4200 for 1 windows
  min_n 200
}
guardrail latency_budget_tight = latency_p95 <= 4200 every 1 hour
guardrail hallucination_ceiling_hourly = hallucination_rate <= 12% every 1 hour
# a monitor by dimension: rows keyed by (period, channel)
monitor hallucination_by_channel {
  metric hallucination_rate
  every 1 hour
  baseline trailing 1 day
  alert when zscore above 3
  min_n 100
  dimensions channel
}
# each 5 minutes against the same 5 minutes an hour earlier (`baseline offset`; the weeks
# before the monitoring day are too sparse at this scale for a week-over-week alert)
monitor csat_hour_over_hour {
  metric csat
  every 5 minutes
  baseline offset 1 hour
  alert when below baseline by 15%
  min_n 15
}
"""
ALERTING_VARIANTS = (
    "csat_drop_small_n",
    "slow_answers_low",
    "latency_budget_tight",
    "hallucination_ceiling_hourly",
    "hallucination_by_channel",
    "csat_hour_over_hour",
)
MONITORS = (
    "csat_drop",
    "hallucination_spike",
    "slow_answers",
    "latency_budget",
    "hallucination_ceiling",
    "support_cost_reduction",
    "csat_by_country",  # sliced by a dimension joined from user_profiles (issue 11)
    "csat_week_over_week",  # against the same day a week earlier (issue 12)
    *ALERTING_VARIANTS,
)


@dataclass(frozen=True)
class MetricCase:
    """One metric query with a grain and dimensions (and a time range for fine grains)."""

    metric: str
    grain: str
    dimensions: tuple[str, ...] = ()
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    @property
    def id(self) -> str:
        return "-".join([self.metric, self.grain.replace(" ", ""), *self.dimensions])


#: Before the monitoring day's dense traffic, and half of that day: zetasql's time grows
#: with the rows a query reads (the metric groups and monitors read everything they need).
ORDINARY = (dt.datetime(2026, 9, 1), dt.datetime(2026, 11, 15))
INCIDENT_HALF_DAY = (dt.datetime(2026, 11, 16, 6), dt.datetime(2026, 11, 16, 18))
METRIC_CASES = (
    MetricCase("latency_p95", "hour", ("channel",), *INCIDENT_HALF_DAY),
    MetricCase("csat", "15 minutes", ("channel",), *MONITORING_DAY),
    MetricCase("hallucination_rate", "week", ("channel",), *ORDINARY),
    MetricCase("cost_per_resolution", "month", ("channel",), *ORDINARY),
    MetricCase("trust_score", "week", (), *ORDINARY),
    MetricCase("active_users", "month", ("channel",)),
    MetricCase("thumbs_up_within_a_day", "week", ("channel",), *ORDINARY),
    MetricCase("csat_7d", "day", ("channel",), *ORDINARY),
    MetricCase("cumulative_cost", "hour", (), *INCIDENT_HALF_DAY),
)
GROUPS = tuple(metric_groups(Workspace.load(SPECS).index))


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def warehouse(demo_warehouse: tuple[Path, dict[str, pa.Table]]) -> tuple[Path, dict[str, pa.Table]]:
    """The demo warehouse as a DuckDB file and as Arrow tables (the session's, ``SCALE``)."""
    return demo_warehouse


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    """specs/ plus the test-local monitor variants (``VARIANTS``)."""
    specs = tmp_path_factory.mktemp("specs") / "specs"
    shutil.copytree(SPECS, specs)
    (specs / "engine_variants.mspec").write_text(VARIANTS, encoding="utf-8")
    ws = Workspace.load(specs)
    assert ws.ok, ws.render()
    return ws.index


class Queries:
    """Compiled SQL, engines loaded once per module, and answers computed once.

    Module-scoped: another module (``test_harness``) loads other ``support.*`` tables into
    the same session engines, so each module loads what it needs. zetasql and Spark run in
    :class:`~harness.background.Background` workers when those are started (see
    ``slow_engines_in_background``).
    """

    def __init__(self, index: Index, tables: dict[str, pa.Table]) -> None:
        self.index = index
        self.tables = tables
        self.backgrounds: dict[str, Background] = {}
        self._loaded: set[int] = set()
        self._sql: dict[tuple[Any, ...], str] = {}
        self._answers: dict[str, Answer] = {}
        self._everything: list[Compiled] | None = None
        self.reference: Engine | None = None

    def load(self, engine: Engine) -> Engine:
        """Load the warehouse into ``engine`` unless done (or being done in the background)."""
        background = self.backgrounds.get(engine.name)
        if background is not None and engine is background.engine:
            background.loaded.result()
        elif id(engine) not in self._loaded:
            engine.load(self.tables)
        self._loaded.add(id(engine))
        return engine

    def sql(self, name: str, backend: str, **options: Any) -> str:
        """The SQL of one object for one backend (``compile_object`` options)."""
        key = (name, backend, tuple(sorted(options.items())))
        if key not in self._sql:
            self._sql[key] = compile_object(self.index, name, get_backend(backend), **options).sql
        return self._sql[key]

    def group_sql(self, group: str, backend: str) -> str:
        """The SQL of one metric source group (as ``metricspec compile`` writes it)."""
        key = ("group", group, backend)
        if key not in self._sql:
            # one process: worker threads may be running, and compile_all would fork
            compiled, failed = compile_all(self.index, [get_backend(backend)], workers=1)
            assert not failed, failed
            for query in compiled:
                if query.kind == "metrics":
                    self._sql[("group", query.name, backend)] = query.sql
        return self._sql[key]

    def expected(self, duckdb_sql: str) -> Answer:
        """DuckDB's answer to its own SQL."""
        assert self.reference is not None
        if duckdb_sql not in self._answers:
            self._answers[duckdb_sql] = answer(self.reference, duckdb_sql, "duckdb")
        return self._answers[duckdb_sql]

    def actual(self, engine: Engine, sql: str) -> Answer:
        """The engine's answer to SQL of its dialect (from the background worker if any)."""
        background = self.backgrounds.get(engine.name)
        if background is not None and engine is background.engine:
            return background.result(sql, run_on, engine, sql)
        return run_on(engine, sql)

    def everything(self) -> list[Compiled]:
        """Every object of specs/ (and the variants) compiled for every backend, metrics also
        one by one."""
        if self._everything is None:
            backends = [get_backend(n) for n in ENGINES]
            compiled, failed = compile_all(self.index, backends, per_metric=True)
            assert not failed, failed
            self._everything = compiled
        return self._everything

    def analyze_everything(self, engine: Engine) -> int:
        """Analyze every BigQuery query with zetasql; return how many. In the background
        worker, a query the comparison tests also run counts as analyzed when it ran (zetasql
        analyzes before it executes)."""
        analyze = engine.analyze  # type: ignore[attr-defined]
        background = self.backgrounds.get(engine.name)
        sqls = [q.sql for q in self.everything() if q.backend.name == "bigquery"]
        if background is None or engine is not background.engine:
            for sql in sqls:
                analyze(sql)
            return len(sqls)
        for sql in sqls:
            if background.submitted(sql):
                background.result(sql, run_on, engine, sql)
            else:
                background.result(("analyze", sql), analyze, sql)
        return len(sqls)

    def query_of(self, item: pytest.Item, backend: str) -> str | None:
        """The query a selected comparison test runs on ``backend``, if it runs one."""
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("loaded") != backend:
            return None
        if "case" in params:
            case: MetricCase = params["case"]
            return self.sql(case.metric, backend, **_metric_options(case))
        if "group" in params:
            return self.group_sql(params["group"], backend)
        if params.get("name") in EXPERIMENTS:
            return self.sql(params["name"], backend)
        if params.get("name") in MONITORS:
            return self.sql(params["name"], backend, **DAY)
        return None


def run_on(engine: Engine, sql: str) -> Answer:
    """Run SQL of the engine's dialect (zetasql analyzes BigQuery SQL as written before it
    executes a rewritten form, so a query BigQuery would reject fails here)."""
    return answer(engine, sql, get_backend(engine.name).sqlglot_dialect)


@pytest.fixture(scope="module")
def queries(index: Index, warehouse: tuple[Path, dict[str, pa.Table]]) -> Queries:
    return Queries(index, warehouse[1])


#: Engines driven from worker threads, started first: zetasql's evaluator needs seconds per
#: query and Spark's JVM schedules every query; both work outside the GIL.
IN_BACKGROUND = ("bigquery", "spark")


@pytest.fixture(scope="module", autouse=True)
def slow_engines_in_background(request: pytest.FixtureRequest, queries: Queries) -> Iterator[None]:
    """Start zetasql and Spark first, each in a worker thread that loads the warehouse and
    runs every query this module will ask of it while the other engines' tests run.

    Only for engines whose tests were selected. If an engine cannot start, its tests get
    the engine's skip (or failure, under METRICSPEC_REQUIRE_ENGINES=1) when they ask for it.
    """
    mine = [i for i in request.session.items if getattr(i, "module", None) is request.module]
    queries.everything()  # compile_all forks worker processes: before any thread starts
    for name in IN_BACKGROUND:
        runs = [sql for item in mine if (sql := queries.query_of(item, name)) is not None]
        analysis = any(f"{name}_engine" in item.fixturenames for item in mine)
        if not runs and not analysis:
            continue
        try:
            engine: Engine = request.getfixturevalue(f"{name}_engine")
        except (pytest.skip.Exception, pytest.fail.Exception):
            continue
        background = Background(engine, queries.tables)
        queries.backgrounds[name] = background
        if analysis:  # BigQuery's analysis first: it is quick, and a test waits for all of it
            for query in queries.everything():
                if query.backend.name == name and query.sql not in runs:
                    sql = query.sql
                    background.submit(("analyze", sql), engine.analyze, sql)  # type: ignore[attr-defined]
        for sql in runs:
            background.submit(sql, run_on, engine, sql)
    try:
        yield
    finally:
        for background in queries.backgrounds.values():
            background.close()
        queries.backgrounds.clear()


@pytest.fixture(scope="module")
def reference(duckdb_engine: Engine, queries: Queries) -> Engine:
    """DuckDB with the warehouse: the answer every engine must give."""
    queries.reference = queries.load(duckdb_engine)
    return duckdb_engine


@pytest.fixture(scope="module", params=OTHERS)
def loaded(request: pytest.FixtureRequest, queries: Queries, reference: Engine) -> Engine:
    """Each other engine with the warehouse loaded."""
    return queries.load(request.getfixturevalue(f"{request.param}_engine"))


# ---------------------------------------------------------------- experiments

LONG_KEY = ("segment", "segment_value", "variant", "metric", "metric_2")


def _integral(component: Measure | None, plan: ExperimentPlan) -> bool:
    """Whether a component's unit values are whole numbers (counts, sums of integers)."""
    if component is None:
        return False
    if component.func != "sum":
        return True
    types = {c.name: c.type for c in plan.sources[component.source].columns}
    return types.get(component.column or "") == "integer"


def _roles(base: BaseMetric, plan: ExperimentPlan) -> dict[str, bool]:
    """Role (x, y, c, d) → whether its unit values are whole numbers."""
    if base.kind == "quantile" or base.conversion is not None:
        return {"x": True, "y": True}
    roles = {"x": _integral(base.x, plan)}
    if base.y is not None:
        roles["y"] = _integral(base.y, plan)
    if base.cuped:
        roles["c"] = roles["x"]
        if "y" in roles:
            roles["d"] = roles["y"]
    return roles


def exact_columns(plan: ExperimentPlan) -> Callable[[tuple[Any, ...]], set[str]]:
    """For a long-format row key: the columns that must be equal to the bit — sums of
    whole-number components (``sum_x2`` of counts, ``cross_xy`` of two counts, ...) and
    the rank-based quantiles with their n*."""
    bases = {b.name: b for b in plan.bases}

    def whole(roles: dict[str, bool], letters: str) -> bool:
        return all(roles.get(r, False) for r in letters)

    def columns(key: tuple[Any, ...]) -> set[str]:
        metric, metric_2 = key[3], key[4]
        if metric not in bases:
            return set()  # __units__ rows: n only, an integer
        roles = _roles(bases[metric], plan)
        if metric_2 is not None:
            other = _roles(bases[metric_2], plan)
            return {
                f"cross_{a}{b}"
                for a in "xy"
                for b in "xy"
                if roles.get(a, False) and other.get(b, False)
            }
        out = set()
        for column in ("sum_x", "sum_y", "sum_c", "sum_d"):
            if whole(roles, column[-1]):
                out.add(column)
        for column in ("sum_x2", "sum_y2", "sum_c2", "sum_d2"):
            if whole(roles, column[-2]):
                out.add(column)
        for column in ("sum_xy", "sum_xc", "sum_xd", "sum_yc", "sum_yd", "sum_cd"):
            if whole(roles, column[-2:]):
                out.add(column)
        if bases[metric].kind == "quantile":
            out |= {"q", "q_lower", "q_upper", "q_n_star"}
        return out

    return columns


@pytest.mark.usefixtures("reference")
def test_demo_warehouse_is_big_enough_for_every_experiment(queries: Queries, index: Index) -> None:
    """Every arm has units, and every percentile ≥ 100 events per arm (else ranks are
    trivially equal)."""
    for name in EXPERIMENTS:
        plan = plan_experiment(index, name)
        rows = queries.expected(queries.sql(name, "duckdb")).records()
        quantiles = {b.name for b in plan.bases if b.kind == "quantile"}
        for row in rows:
            if row["segment"] != "all" or row["variant"] == "__multiple__":
                continue
            if row["metric"] == "__units__":
                assert row["n"] >= 50, f"{name}: {row['variant']} has {row['n']} units"
            if row["metric"] in quantiles:
                assert row["sum_y"] >= 100, f"{name}: {row['metric']} has {row['sum_y']} events"
        assert {r["variant"] for r in rows} >= set(plan.variants), name


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_statistics_match_duckdb(
    name: str, loaded: Engine, queries: Queries, index: Index
) -> None:
    expected = queries.expected(queries.sql(name, "duckdb"))
    actual = queries.actual(loaded, queries.sql(name, loaded.name))
    assert_answers_match(
        actual,
        expected,
        LONG_KEY,
        exact=exact_columns(plan_experiment(index, name)),
        label=f"{name} on {loaded.name}",
    )


# ---------------------------------------------------------------- metric queries


def assert_like_duckdb(
    engine: Engine,
    actual: Answer,
    duckdb_sql: str,
    queries: Queries,
    key: tuple[str, ...],
    label: str,
) -> None:
    """Compare with DuckDB; on BigQuery, columns that depend on a percentile must lie
    within the rank tolerance instead (``APPROX_LEVELS``)."""
    expected = queries.expected(duckdb_sql)
    if engine.name != "bigquery" or "QUANTILE_CONT" not in duckdb_sql.upper():
        assert_answers_match(actual, expected, key, label=label)
        return
    low = answer(queries.reference, rank_bounds_sql(duckdb_sql, -APPROX_LEVELS), "duckdb")
    high = answer(queries.reference, rank_bounds_sql(duckdb_sql, APPROX_LEVELS), "duckdb")
    lows, highs = low.keyed(key), high.keyed(key)
    assert list(lows) == list(highs) == list(expected.keyed(key)), f"{label}: bounds' keys"
    approximate = {
        c
        for k, row in lows.items()
        for c, v in row.items()
        if v != highs[k][c] or v != expected.keyed(key)[k][c]
    }
    assert approximate, f"{label}: no column depends on a percentile"
    assert_answers_match(actual, expected, key, skip=approximate, label=label)
    for k, row in actual.keyed(key).items():
        for c in approximate:
            lo, hi, value = lows[k][c], highs[k][c], row[c]
            if lo is None or hi is None:
                assert value is None, f"{label}: {k} {c} = {value!r}, DuckDB has none"
                continue
            lo, hi = min(lo, hi), max(lo, hi)
            assert lo <= value <= hi, f"{label}: {k} {c} = {value!r} outside [{lo!r}, {hi!r}]"


@pytest.mark.parametrize("group", GROUPS)
def test_metric_group_matches_duckdb(group: str, loaded: Engine, queries: Queries) -> None:
    duckdb_sql = queries.group_sql(group, "duckdb")
    actual = queries.actual(loaded, queries.group_sql(group, loaded.name))
    assert_like_duckdb(
        loaded, actual, duckdb_sql, queries, ("period",), f"{group} on {loaded.name}"
    )


def _metric_options(case: MetricCase) -> dict[str, Any]:
    return {
        "grain": Grain.parse(case.grain),
        "dimensions": case.dimensions,
        "start": case.start,
        "end": case.end,
    }


@pytest.mark.parametrize("case", METRIC_CASES, ids=lambda c: c.id)
def test_metric_by_grain_and_dimension_matches_duckdb(
    case: MetricCase, loaded: Engine, queries: Queries
) -> None:
    duckdb_sql = queries.sql(case.metric, "duckdb", **_metric_options(case))
    expected = queries.expected(duckdb_sql)
    assert len(expected.rows) >= 3, f"{case.id}: too few rows to prove anything"
    actual = queries.actual(loaded, queries.sql(case.metric, loaded.name, **_metric_options(case)))
    key = ("period", *case.dimensions)
    assert_like_duckdb(loaded, actual, duckdb_sql, queries, key, f"{case.id} on {loaded.name}")


# ---------------------------------------------------------------- monitors, guardrails, KPI


DAY = {"start": MONITORING_DAY[0], "end": MONITORING_DAY[1]}


@pytest.mark.usefixtures("reference")
def test_monitor_variants_alert(queries: Queries) -> None:
    """The test-local variants fire, so comparing them is not comparing empty results."""
    for name in ALERTING_VARIANTS:
        rows = queries.expected(queries.sql(name, "duckdb", **DAY)).rows
        assert rows, f"{name} raised no alert on the demo warehouse"


@pytest.mark.parametrize("name", MONITORS)
def test_monitor_matches_duckdb(name: str, loaded: Engine, queries: Queries) -> None:
    duckdb_sql = queries.sql(name, "duckdb", **DAY)
    expected = queries.expected(duckdb_sql)
    actual = queries.actual(loaded, queries.sql(name, loaded.name, **DAY))
    label = f"{name} on {loaded.name}"
    if "parent" in expected.columns:  # KPI reconciliation
        assert_reconciliation_matches(actual, expected, label)
        return
    key = ("period", *[c for c in expected.columns if c not in MONITOR_COLUMNS])
    if loaded.name == "bigquery" and "QUANTILE_CONT" in duckdb_sql.upper():
        assert_threshold_alerts_within_bounds(actual, duckdb_sql, queries, key, label)
        return
    assert_answers_match(actual, expected, key, label=label)


MONITOR_COLUMNS = ("period", "value", "sample_n", "baseline", "baseline_windows", "deviation")


def assert_threshold_alerts_within_bounds(
    actual: Answer, duckdb_sql: str, queries: Queries, key: tuple[str, ...], label: str
) -> None:
    """A threshold rule on an approximate percentile: alerts are monotone in the value, so
    BigQuery's windows in alert must include those DuckDB finds with every percentile at
    its lower bound and lie within those it finds at the upper bound, with values between.
    """
    low = answer(queries.reference, rank_bounds_sql(duckdb_sql, -APPROX_LEVELS), "duckdb")
    high = answer(queries.reference, rank_bounds_sql(duckdb_sql, APPROX_LEVELS), "duckdb")
    lows, highs, got = low.keyed(key), high.keyed(key), actual.keyed(key)
    assert set(lows) <= set(got) <= set(highs), f"{label}: windows in alert out of bounds"
    for k, row in got.items():
        assert same(row["sample_n"], highs[k]["sample_n"]), f"{label}: {k} sample_n"
        assert row["value"] <= highs[k]["value"], f"{label}: {k} value above its bound"
        if k in lows:
            assert row["value"] >= lows[k]["value"], f"{label}: {k} value below its bound"
        threshold = highs[k]["value"] - highs[k]["deviation"]
        assert same(row["value"] - row["deviation"], threshold), f"{label}: {k} deviation"


def assert_reconciliation_matches(actual: Answer, expected: Answer, label: str) -> None:
    """KPI reconciliation rows: values to 1e-9; residuals (differences of nearly equal
    numbers) to 1e-9 of the parent's value."""
    key = ("parent", "composition", "period")
    assert_answers_match(actual, expected, key, skip=("residual", "relative_residual"), label=label)
    got = actual.keyed(key)
    for k, want in expected.keyed(key).items():
        scale = abs(want["parent_value"] or 0.0)
        for column, size in (("residual", scale), ("relative_residual", 1.0)):
            a, e = got[k][column], want[column]
            assert (a is None) == (e is None), f"{label}: {k} {column}: {a!r} vs {e!r}"
            if a is not None:
                assert abs(a - e) <= 1e-9 * size, f"{label}: {k} {column}: {a!r} vs {e!r}"


# ---------------------------------------------------------------- validity of every query


def test_every_query_parses_back_in_its_dialect(queries: Queries) -> None:
    for query in queries.everything():
        assert output_columns(query.sql, query.backend.sqlglot_dialect), query.path


def test_every_bigquery_query_passes_zetasql_analysis(
    queries: Queries, bigquery_engine: Engine
) -> None:
    analyzed = queries.analyze_everything(queries.load(bigquery_engine))
    assert analyzed >= 40, analyzed


# ---------------------------------------------------------------- metricspec run on PostgreSQL

RUN_EXPERIMENT = "summarizer_v2"  # CUPED, segments, a percentile guardrail, sequential


@pytest.fixture(scope="module")
def postgres_url(postgres_engine: Engine, queries: Queries) -> str:
    """The PostgreSQL server's URL, its database holding the warehouse."""
    queries.load(postgres_engine)
    url: str = postgres_engine.server.url  # type: ignore[attr-defined]
    return url


@pytest.fixture(scope="module")
def duckdb_url(warehouse: tuple[Path, dict[str, pa.Table]]) -> str:
    """The same warehouse in the DuckDB file it was generated in."""
    return f"duckdb:///{warehouse[0]}?read_only=true"


def assert_same_tree(actual: Any, expected: Any, path: str = "$") -> int:
    """Assert two JSON-like trees are equal, floats to 1e-9 relative (1e-12 absolute near
    zero); return how many numbers were compared."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), path
        return sum(assert_same_tree(actual[k], expected[k], f"{path}.{k}") for k in expected)
    if isinstance(expected, list | tuple):
        assert isinstance(actual, list | tuple) and len(actual) == len(expected), path
        return sum(
            assert_same_tree(a, e, f"{path}[{i}]")
            for i, (a, e) in enumerate(zip(actual, expected, strict=True))
        )
    if isinstance(expected, float) and isinstance(actual, int | float):
        assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12), (
            f"{path}: {actual!r} != {expected!r} (DuckDB)"
        )
        return 1
    assert actual == expected, f"{path}: {actual!r} != {expected!r} (DuckDB)"
    return int(isinstance(expected, int) and not isinstance(expected, bool))


def test_run_experiment_on_postgres_gives_duckdbs_analysis(
    postgres_url: str, duckdb_url: str
) -> None:
    """issue 5: the same AnalysisResult through the product connectors of both warehouses."""
    index = Workspace.load(SPECS).index
    results = {}
    for url in (postgres_url, duckdb_url):
        with connect(url) as conn:
            run = run_experiment(index, RUN_EXPERIMENT, conn)
        results[run.backend.name] = analyze_rows(run.plan, run.rows)
    got, want = results["postgres"].to_dict(), results["duckdb"].to_dict()
    assert assert_same_tree(got, want) > 100
    assert got["decision"]["outcome"] == want["decision"]["outcome"]
    assert want["metrics"] and want["guardrails"]


def test_metricspec_run_on_postgres_prints_duckdbs_json(postgres_url: str, duckdb_url: str) -> None:
    """``metricspec run NAME --warehouse postgresql://… --format json`` equals the DuckDB run
    except for the warehouse URL, the timings and what the query read (each engine says it
    differently: `run.cost`)."""
    reports = []
    for url in (postgres_url, duckdb_url):
        result = CliRunner().invoke(
            app,
            [
                "run",
                RUN_EXPERIMENT,
                "--spec-dir",
                str(SPECS),
                "--warehouse",
                url,
                "--format",
                "json",
            ],
        )
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["report"].pop("warehouse").split(":")[0] == url.split(":")[0]
        report["report"].pop("timings")
        scan = report["report"].pop("scan")
        assert scan["rows"] > 0 and report["report"].pop("scan_summary")
        reports.append(report)
    assert assert_same_tree(reports[0], reports[1]) > 100
    assert reports[0]["analysis"]["decision"] == reports[1]["analysis"]["decision"]


def test_long_format_text_columns_are_the_key() -> None:
    """The row key used above is the documented one (docs/sufficient-statistics.md)."""
    assert TEXT_COLUMNS[1:] == LONG_KEY


DESIGNS = """experiment tone_tuning "Warmer tone in answers" {
  unit user_id
  assignment assignments variant variant where experiment_id = 'tone_tuning'
  variants control 50% control, treatment 50%
  window 2026-10-15 .. 2026-10-28
  primary csat
  secondary ces, conversation_count
  guardrail latency_p95 max_increase 10%
  correction holm
  analysis bayesian; prior mean 0 sd 0.2
  sequential looks 3 spending obrien_fleming
  traffic 900 per day
  stratify platform
}
"""


def test_analysis_designs_on_postgres_give_duckdbs_analysis(
    postgres_url: str, duckdb_url: str, tmp_path: Path
) -> None:
    """Bayesian readouts, a group-sequential look and post-stratification (whose strata are the
    dimension's segment rows) from PostgreSQL's SQL equal DuckDB's."""
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    (specs / "experiments" / "tone_tuning.mspec").write_text(DESIGNS)
    index = Workspace.load(specs).index
    results = {}
    for url in (postgres_url, duckdb_url):
        with connect(url) as conn:
            run = run_experiment(index, "tone_tuning", conn)
        results[run.backend.name] = analyze_rows(run.plan, run.rows, 2)
    got, want = results["postgres"].to_dict(), results["duckdb"].to_dict()
    assert assert_same_tree(got, want) > 100
    notes = want["settings"]["poststratification"]["metrics"]
    assert notes["csat (treatment)"].startswith("post-stratified over")
    assert want["settings"]["group_sequential"]["look"] == 2
    assert all(m["bayesian"] for m in want["metrics"] if m["verdict"] != "insufficient data")
