"""Run compiled queries on a warehouse connection, with a preflight that names what is
missing (a table, a column) in terms of the spec, before the real query runs.

`execute_*` take a `pipeline.Compiled` (its plan for the preflight, its SQL to execute) and
never plan; `run_*` compile an object for the connection's warehouse first, through the
pipeline, and then execute it.

Every failure is a `RunError` naming the spec object, the source and table involved, and the
warehouse's own message; callers show it without a traceback.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from metricspec import ir, pipeline
from metricspec.backends import Backend, get_backend
from metricspec.pipeline import Compiled, CompileError, Kind, Request
from metricspec.plan.experiment import ExperimentPlan
from metricspec.plan.metric_query import Grain, MetricQueryPlan
from metricspec.plan.monitor import MonitorPlan
from metricspec.plan.regression import RegressionPlan
from metricspec.run.connections import Connection, QueryResult, WarehouseError
from metricspec.run.cost import Budget, ScanCost, budget_problem, combine
from metricspec.semantic import Index

_log = logging.getLogger("metricspec.run")

Progress = Callable[[str], None]
P = TypeVar("P", ExperimentPlan, MonitorPlan, MetricQueryPlan)


class RunError(Exception):
    """A spec object could not be run; the message says which object, table and why."""


@dataclass
class Timings:
    steps: dict[str, float] = field(default_factory=dict)

    def add(self, step: str, seconds: float) -> None:
        self.steps[step] = self.steps.get(step, 0.0) + seconds


@dataclass
class ExperimentRun:
    plan: ExperimentPlan
    backend: Backend
    sql: str
    rows: list[dict[str, Any]]
    timings: Timings
    #: what the query read, where the engine says (`run.cost`)
    cost: ScanCost | None = None


@dataclass
class MetricsRun:
    rows: list[dict[str, Any]]
    cost: ScanCost | None = None


@dataclass
class MonitorRun:
    plan: MonitorPlan
    backend: Backend
    sql: str
    alerts: list[dict[str, Any]]
    timings: Timings
    cost: ScanCost | None = None
    # windows in the range and windows with enough data to be judged; counted only when no
    # window is in alert (an alert proves there was data), else None
    coverage: tuple[int, int] | None = None


def no_progress(_: str) -> None:
    return None


def backend_of(conn: Connection) -> Backend:
    return get_backend(conn.dialect)


def rows_of(result: QueryResult) -> list[dict[str, Any]]:
    """Result rows as dicts with lower-case column names (Snowflake returns upper case)."""
    names = [c.lower() for c in result.columns]
    return [dict(zip(names, row, strict=True)) for row in result.rows]


def execute(conn: Connection, sql: str, what: str, tables: Iterable[str] = (),
            budget: Budget | None = None) -> QueryResult:
    """Run one query; with a scan ``budget``, first ask the engine what it would read and
    refuse (a `RunError` with the estimate) when that is more or cannot be known.
    `metricspec --verbose` shows every query and how long it took (logger `metricspec`)."""
    return execute_costed(conn, sql, what, tables, budget, measure=False)[0]


def execute_costed(conn: Connection, sql: str, what: str, tables: Iterable[str] = (),
                   budget: Budget | None = None, *, measure: bool = True,
                   ) -> tuple[QueryResult, ScanCost | None]:
    """`execute`, and what the query read: the engine's own figures, else its estimate
    (asked once: the budget's estimate is reused), else ``None`` (not reported). Reading the
    figures never fails a query that succeeded."""
    read = ", ".join(sorted(set(tables)))
    estimate: ScanCost | None = None
    try:
        if budget is not None:
            estimate = conn.estimate(sql)
            problem = budget_problem(budget, estimate, conn.dialect)
            if problem is not None:
                raise RunError(f"{what}: {problem}")
        _log.debug("%s: running\n%s", what, sql)
        started = time.perf_counter()
        result = conn.execute(sql)
        _log.debug("%s: %.2f s", what, time.perf_counter() - started)
    except WarehouseError as exc:
        raise RunError(f"{what}: the warehouse rejected the query"
                       + (f" (it reads {read})" if read else "") + f": {exc.message}") from exc
    if not measure:
        return result, None
    cost = conn.last_cost or estimate
    if cost is None:
        try:
            cost = conn.estimate(sql)
        except WarehouseError:
            cost = None
    return result, cost


# ------------------------------------------------------------ preflight


def _table_name(source: ir.Source) -> str:
    return ".".join(source.table) if source.table else f"(query of source `{source.name}`)"


def preflight(conn: Connection, backend: Backend, what: str,
              needed: dict[ir.Source, set[str]]) -> None:
    """Check every source's table exists and has the columns the query reads."""
    from sqlglot import exp

    from metricspec.emit.sqlbuild import SqlBuilder

    sql = SqlBuilder(backend)
    for source, columns in sorted(needed.items(), key=lambda item: item[0].name):
        probe = exp.select(exp.Star()).from_(sql.source(source, "s")).where(exp.false()).limit(0)
        text = probe.sql(dialect=backend.sqlglot_dialect)
        try:
            result = conn.execute(text)
        except WarehouseError as exc:
            raise RunError(f"{what}: source `{source.name}` reads {_table_name(source)}, which "
                           f"the warehouse cannot read: {exc.message}") from exc
        present = {c.lower() for c in result.columns}
        missing = sorted(c for c in columns if c.lower() not in present)
        if missing:
            listed = ", ".join(f"`{c}`" for c in missing)
            raise RunError(f"{what}: source `{source.name}` ({_table_name(source)}) has no "
                           f"column {listed}; the table has: {', '.join(sorted(present))}")


def preflight_columns(plan: ExperimentPlan | MetricQueryPlan) -> dict[ir.Source, set[str]]:
    """What the preflight checks for an experiment or a series (see the plans'
    `columns_read`), the dimension tables it joins included."""
    sources = {**plan.joined_tables, **plan.sources}
    return {sources[name]: set(cols) for name, cols in plan.columns_read().items()}


# ------------------------------------------------------------ runs


def _compiled(what: str, timings: Timings, progress: Progress,
              build: Callable[[], Compiled]) -> Compiled:
    """Compile through the pipeline, timed; what cannot be compiled is a `RunError`."""
    progress("planning")
    started = time.perf_counter()
    try:
        compiled = build()
    except CompileError as exc:
        raise RunError(f"{what}: {exc.reason if exc.request else exc}") from exc
    timings.add("compile", time.perf_counter() - started)
    return compiled


def _plan_of(compiled: Compiled, kind: type[P]) -> P:
    if not isinstance(compiled.plan, kind):
        raise TypeError(f"{compiled.kind} `{compiled.name}` has no {kind.__name__}")
    return compiled.plan


def run_experiment(index: Index, name: str, conn: Connection,
                   progress: Progress = no_progress, budget: Budget | None = None) -> ExperimentRun:
    """Compile, preflight and execute an experiment's sufficient-statistics query."""
    timings = Timings()
    backend = backend_of(conn)
    compiled = _compiled(f"experiment `{name}`", timings, progress,
                         lambda: pipeline.compile(index, name, backend))
    return execute_experiment(compiled, conn, progress, timings, budget)


def execute_experiment(compiled: Compiled, conn: Connection, progress: Progress = no_progress,
                       timings: Timings | None = None,
                       budget: Budget | None = None) -> ExperimentRun:
    """Preflight and execute a compiled experiment."""
    plan = _plan_of(compiled, ExperimentPlan)
    timings = timings or Timings()
    what = f"experiment `{compiled.name}`"
    progress("checking tables")
    started = time.perf_counter()
    preflight(conn, compiled.backend, what, preflight_columns(plan))
    timings.add("preflight", time.perf_counter() - started)
    progress("running the experiment query")
    started = time.perf_counter()
    result, cost = execute_costed(conn, compiled.sql, what,
                                  (_table_name(s) for s in plan.sources.values()), budget)
    timings.add("query", time.perf_counter() - started)
    return ExperimentRun(plan, compiled.backend, compiled.sql, rows_of(result), timings, cost)


def run_daily(plan: ExperimentPlan, conn: Connection) -> list[dict[str, Any]]:
    """Execute an experiment's daily diagnostics query (`emit.experiment_daily`): the
    split by day and segment, undeclared variants, early exposures, primaries over time."""
    from metricspec.emit.experiment_daily import daily_sql
    from metricspec.emit.render import render_sql
    from metricspec.emit.sqlbuild import SqlBuilder

    backend = backend_of(conn)
    name = plan.experiment.name
    text = render_sql(daily_sql(plan, SqlBuilder(backend)), backend,
                      kind="experiment diagnostics", name=name, files=plan.files)
    return rows_of(execute(conn, text, f"experiment `{name}` (daily diagnostics)",
                           (_table_name(s) for s in plan.sources.values())))


def run_regression(reg: RegressionPlan, conn: Connection) -> list[dict[str, Any]]:
    """Execute an experiment's regression-adjustment query (`emit.experiment_regression`)."""
    from metricspec.emit.experiment_regression import regression_sql
    from metricspec.emit.render import render_sql
    from metricspec.emit.sqlbuild import SqlBuilder

    backend = backend_of(conn)
    name = reg.plan.experiment.name
    text = render_sql(regression_sql(reg, SqlBuilder(backend)), backend,
                      kind="experiment regression", name=name, files=reg.plan.files)
    return rows_of(execute(conn, text, f"experiment `{name}` (regression adjustment)",
                           (_table_name(s) for s in reg.sources.values())))


def run_monitor(index: Index, name: str, conn: Connection, *, since: dt.datetime | None = None,
                until: dt.datetime | None = None, progress: Progress = no_progress,
                plan: MonitorPlan | None = None, budget: Budget | None = None) -> MonitorRun:
    """Evaluate a monitor or guardrail over [since, until) and return the windows in alert;
    `plan`: its plan for that range when the caller made it already (it is not made again)."""
    timings = Timings()
    backend = backend_of(conn)
    kind: Kind = "guardrail" if name in index.guardrails else "monitor"
    compiled = _compiled(f"{kind} `{name}`", timings, progress, lambda: (
        pipeline.compile(index, name, backend, Request(start=since, end=until)) if plan is None
        else pipeline.compile_plan(kind, name, plan, backend)))
    return execute_monitor(compiled, conn, progress, timings, budget)


def execute_monitor(compiled: Compiled, conn: Connection, progress: Progress = no_progress,
                    timings: Timings | None = None,
                    budget: Budget | None = None) -> MonitorRun:
    """Preflight and execute a compiled monitor or guardrail; when nothing alerts, count the
    windows of its range and those with enough data to be judged."""
    plan = _plan_of(compiled, MonitorPlan)
    timings = timings or Timings()
    what = f"{compiled.kind} `{compiled.name}`"
    progress("checking tables")
    preflight(conn, compiled.backend, what, preflight_columns(plan.series))
    progress(f"evaluating {what}")
    started = time.perf_counter()
    tables = [_table_name(s) for s in plan.series.sources.values()]
    result, cost = execute_costed(conn, compiled.sql, what, tables, budget)
    alerts, costs = rows_of(result), [cost]
    coverage = None
    if not alerts:  # no alert: was there anything to judge?
        coverage_sql = pipeline.coverage_sql(compiled)
        result, cost = execute_costed(conn, coverage_sql, what, tables, budget)
        [row] = rows_of(result)
        costs.append(cost)
        coverage = (int(row["windows"] or 0), int(row["judged"] or 0))
    timings.add("query", time.perf_counter() - started)
    return MonitorRun(plan, compiled.backend, compiled.sql, alerts, timings, combine(costs),
                      coverage)


def run_monitor_series(plan: MonitorPlan, conn: Connection, *, name: str,
                       kind: Kind = "monitor", budget: Budget | None = None
                       ) -> list[dict[str, Any]]:
    """Every window of a planned monitor's or guardrail's range, with its value, sample size,
    judged flag, baseline, alert limit and alert flag (`pipeline.series_sql`); the windows in
    alert are those `run_monitor` returns for the same plan."""
    what = f"{kind} `{name}` series"
    compiled = _compiled(what, Timings(), no_progress,
                         lambda: pipeline.compile_plan(kind, name, plan, backend_of(conn)))
    preflight(conn, compiled.backend, what, preflight_columns(plan.series))
    tables = [_table_name(s) for s in plan.series.sources.values()]
    return rows_of(execute(conn, pipeline.series_sql(compiled), what, tables, budget))


def run_metrics(index: Index, names: list[str], conn: Connection, *, grain: Grain | None = None,
                dimensions: tuple[str, ...] = (), since: dt.datetime | None = None,
                until: dt.datetime | None = None, plan: MetricQueryPlan | None = None,
                budget: Budget | None = None) -> list[dict[str, Any]]:
    """Metrics by period (and dimensions) as rows; `plan`: the query's plan when the caller
    made it already (it is not made again)."""
    return run_metrics_costed(index, names, conn, grain=grain, dimensions=dimensions,
                              since=since, until=until, plan=plan, budget=budget).rows


def run_metrics_costed(index: Index, names: list[str], conn: Connection, *,
                       grain: Grain | None = None, dimensions: tuple[str, ...] = (),
                       since: dt.datetime | None = None, until: dt.datetime | None = None,
                       plan: MetricQueryPlan | None = None,
                       budget: Budget | None = None) -> MetricsRun:
    """`run_metrics`, with what the query read."""
    backend = backend_of(conn)
    what = f"metric{'s' if len(names) > 1 else ''} {', '.join(f'`{n}`' for n in names)}"
    compiled = _compiled(what, Timings(), no_progress, lambda: (
        pipeline.compile_metrics(index, names, backend, Request(grain, dimensions, since, until))
        if plan is None else pipeline.compile_plan("metrics", plan.title, plan, backend)))
    return execute_metrics_costed(compiled, conn, what, budget)


def execute_metrics(compiled: Compiled, conn: Connection, what: str | None = None,
                    ) -> list[dict[str, Any]]:
    """Preflight and execute a compiled metric query; its rows."""
    return execute_metrics_costed(compiled, conn, what).rows


def execute_metrics_costed(compiled: Compiled, conn: Connection, what: str | None = None,
                           budget: Budget | None = None) -> MetricsRun:
    """Preflight and execute a compiled metric query; its rows and what it read."""
    plan = _plan_of(compiled, MetricQueryPlan)
    what = what or f"metric query `{compiled.name}`"
    preflight(conn, compiled.backend, what, preflight_columns(plan))
    result, cost = execute_costed(conn, compiled.sql, what,
                                  (_table_name(s) for s in plan.sources.values()), budget)
    return MetricsRun(rows_of(result), cost)
