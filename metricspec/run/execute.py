"""Run compiled queries on a warehouse connection, with a preflight that names what is
missing (a table, a column) in terms of the spec, before the real query runs.

Every failure is a `RunError` naming the spec object, the source and table involved, and the
warehouse's own message; callers show it without a traceback.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from metricspec import ir
from metricspec.backends import Backend, get_backend
from metricspec.emit.compile import CompileError, compile_object
from metricspec.plan.experiment import ExperimentPlan, plan_experiment
from metricspec.plan.lower import PlanError
from metricspec.plan.metric_query import Grain, MetricQueryPlan, plan_metric_query
from metricspec.plan.monitor import MonitorPlan, plan_monitor
from metricspec.run.connections import Connection, QueryResult, WarehouseError
from metricspec.semantic import Index

Progress = Callable[[str], None]


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


@dataclass
class MonitorRun:
    plan: MonitorPlan
    backend: Backend
    sql: str
    alerts: list[dict[str, Any]]
    timings: Timings
    # windows in the range and windows with enough data to be judged; counted only when no
    # window is in alert (an alert proves there was data), else None
    coverage: tuple[int, int] | None = None


def _noop(_: str) -> None:
    return None


def backend_of(conn: Connection) -> Backend:
    return get_backend(conn.dialect)


def rows_of(result: QueryResult) -> list[dict[str, Any]]:
    """Result rows as dicts with lower-case column names (Snowflake returns upper case)."""
    names = [c.lower() for c in result.columns]
    return [dict(zip(names, row, strict=True)) for row in result.rows]


def execute(conn: Connection, sql: str, what: str, tables: Iterable[str] = ()) -> QueryResult:
    try:
        return conn.execute(sql)
    except WarehouseError as exc:
        read = ", ".join(sorted(set(tables)))
        raise RunError(f"{what}: the warehouse rejected the query"
                       + (f" (it reads {read})" if read else "") + f": {exc.message}") from exc


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


def experiment_columns(plan: ExperimentPlan) -> dict[ir.Source, set[str]]:
    """What the preflight checks for an experiment (see `ExperimentPlan.columns_read`)."""
    return {plan.sources[name]: set(cols) for name, cols in plan.columns_read().items()}


def series_columns(plan: MetricQueryPlan) -> dict[ir.Source, set[str]]:
    """What the preflight checks for a series (see `MetricQueryPlan.columns_read`)."""
    return {plan.sources[name]: set(cols) for name, cols in plan.columns_read().items()}


# ------------------------------------------------------------ runs


def run_experiment(index: Index, name: str, conn: Connection,
                   progress: Progress = _noop) -> ExperimentRun:
    """Compile, preflight and execute an experiment's sufficient-statistics query."""
    backend = backend_of(conn)
    timings = Timings()
    what = f"experiment `{name}`"
    try:
        progress("planning")
        started = time.perf_counter()
        plan = plan_experiment(index, name)
        query = compile_object(index, name, backend)
        timings.add("compile", time.perf_counter() - started)
    except (PlanError, CompileError) as exc:
        raise RunError(f"{what}: {exc}") from exc
    progress("checking tables")
    started = time.perf_counter()
    preflight(conn, backend, what, experiment_columns(plan))
    timings.add("preflight", time.perf_counter() - started)
    progress("running the experiment query")
    started = time.perf_counter()
    result = execute(conn, query.sql, what, (_table_name(s) for s in plan.sources.values()))
    timings.add("query", time.perf_counter() - started)
    return ExperimentRun(plan, backend, query.sql, rows_of(result), timings)


def run_monitor(index: Index, name: str, conn: Connection, *, since: dt.datetime | None = None,
                until: dt.datetime | None = None, progress: Progress = _noop) -> MonitorRun:
    """Evaluate a monitor or guardrail over [since, until) and return the windows in alert."""
    backend = backend_of(conn)
    timings = Timings()
    kind = "guardrail" if name in index.guardrails else "monitor"
    what = f"{kind} `{name}`"
    try:
        progress("planning")
        started = time.perf_counter()
        plan = plan_monitor(index, name, start=since, end=until)
        query = compile_object(index, name, backend, start=since, end=until)
        timings.add("compile", time.perf_counter() - started)
    except (PlanError, CompileError) as exc:
        raise RunError(f"{what}: {exc}") from exc
    progress("checking tables")
    preflight(conn, backend, what, series_columns(plan.series))
    progress(f"evaluating {kind} `{name}`")
    started = time.perf_counter()
    tables = [_table_name(s) for s in plan.series.sources.values()]
    alerts = rows_of(execute(conn, query.sql, what, tables))
    coverage = None
    if not alerts:  # no alert: was there anything to judge?
        from metricspec.emit.monitor_sql import monitor_coverage_sql
        from metricspec.emit.render import render_sql
        from metricspec.emit.sqlbuild import SqlBuilder

        text = render_sql(monitor_coverage_sql(plan, SqlBuilder(backend)), backend,
                          kind=f"{kind} coverage", name=name, files=plan.files)
        [row] = rows_of(execute(conn, text, what, tables))
        coverage = (int(row["windows"] or 0), int(row["judged"] or 0))
    timings.add("query", time.perf_counter() - started)
    return MonitorRun(plan, backend, query.sql, alerts, timings, coverage)


def run_metrics(index: Index, names: list[str], conn: Connection, *, grain: Grain | None = None,
                dimensions: tuple[str, ...] = (), since: dt.datetime | None = None,
                until: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Metrics by period (and dimensions) as rows."""
    from metricspec.emit.metric_sql import metric_query_sql
    from metricspec.emit.render import render_sql
    from metricspec.emit.sqlbuild import SqlBuilder

    backend = backend_of(conn)
    what = f"metric{'s' if len(names) > 1 else ''} {', '.join(f'`{n}`' for n in names)}"
    try:
        plan = plan_metric_query(index, names, grain=grain, dimensions=dimensions, start=since,
                                 end=until)
    except PlanError as exc:
        raise RunError(f"{what}: {exc}") from exc
    preflight(conn, backend, what, series_columns(plan))
    sql = render_sql(metric_query_sql(plan, SqlBuilder(backend)), backend, kind="metric query",
                     name=plan.title, files=plan.files)
    return rows_of(execute(conn, sql, what, (_table_name(s) for s in plan.sources.values())))
