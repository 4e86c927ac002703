"""SQL for metrics over one time range as a whole: one row, one aggregate per source.

The plan is a metric query's (`plan.metric_query`), so measures are shared and named as
there; only the shape differs: no period, no grouping, each source scanned once over
[start, end) with every measure of every metric as a column, then each metric's formula.

    <source>_agg   one aggregate over the range per source, all its measures
    final SELECT   each metric's formula over the (cross-joined) one-row aggregates

Windows (rolling, cumulative) and conversions have no single value over a range: a plan
holding them is refused by the caller before it gets here.
"""

from __future__ import annotations

from sqlglot import exp

from metricspec.emit.joining import joining
from metricspec.emit.metric_sql import formula_sql, measure_sql
from metricspec.emit.sqlbuild import SqlBuilder, aliased, with_ctes
from metricspec.emit.zones import bound
from metricspec.plan.lower import InternalError
from metricspec.plan.metric_query import MetricQueryPlan, Scan


def _scan(plan: MetricQueryPlan, scan: Scan, sql: SqlBuilder) -> exp.Select:
    source = scan.source
    if source.time is None:
        raise InternalError(f"source `{source.name}` has no time column", "MS605")
    select = exp.select(*[aliased(measure_sql(m, sql), sql.alias(m.name)) for m in scan.measures])
    select = select.from_(sql.source(source, "s"), copy=False)
    time = sql.col(source.time.name, "s")
    conditions: list[exp.Expr] = []
    if plan.start is not None:  # wall-clock bounds in the project zone, moved to the column's
        conditions.append(exp.GTE(this=time.copy(),
                                  expression=bound(plan.timezone, source, plan.start, sql)))
    if plan.end is not None:
        conditions.append(exp.LT(this=time.copy(),
                                 expression=bound(plan.timezone, source, plan.end, sql)))
    if conditions:
        select = select.where(exp.and_(*conditions), copy=False)
    return select


def range_sql(plan: MetricQueryPlan, sql: SqlBuilder) -> exp.Select:
    """Build the sqlglot tree of the metrics of `plan` over its whole range."""
    if plan.conversions or plan.series or any(m.window for m in plan.metrics):
        raise InternalError("a range total holds no conversion, window or offset")
    ctes: list[tuple[str, exp.Expr]] = [
        (f"{scan.source.name}_agg", _scan(plan, scan, sql)) for scan in plan.scans]
    select = exp.select(*[aliased(formula_sql(m.formula, sql, ""), sql.alias(m.name))
                          for m in plan.metrics])
    for number, (name, _) in enumerate(ctes):
        if number == 0:
            select = select.from_(sql.cte(name), copy=False)
        else:
            select = select.join(joining(sql.cte(name), "cross"), copy=False)
    with_ctes(select, ctes)
    return select
