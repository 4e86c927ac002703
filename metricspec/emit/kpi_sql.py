"""SQL for KPI-tree reconciliation: per period and edge, the parent, the value its drivers
compose to, and the residual."""

from __future__ import annotations

from sqlglot import exp

from metricspec.emit.metric_sql import PERIOD, metric_query_sql
from metricspec.emit.monitor_sql import hoist
from metricspec.emit.sqlbuild import SqlBuilder, aliased, with_ctes
from metricspec.plan.formula import fold
from metricspec.plan.kpi import KpiPlan
from metricspec.plan.lower import InternalError

RECONCILE_COLUMNS = (
    "parent",
    "composition",
    "period",
    "parent_value",
    "composed_value",
    "residual",
    "relative_residual",
)


def kpi_sql(plan: KpiPlan, sql: SqlBuilder) -> exp.Select:
    if plan.series is None:
        return _nothing_to_reconcile(sql)
    ctes, body = hoist(metric_query_sql(plan.series, sql))
    ctes.append(("tree_metrics", body))
    union: exp.Expr | None = None
    for edge in plan.edges:
        composed = fold(
            edge.composed, sql.num, lambda n: sql.ref(n), _binary(sql), lambda a: exp.Neg(this=a)
        )
        parent = sql.ref(edge.parent)
        residual = exp.Sub(this=parent.copy(), expression=composed.copy())
        select = exp.select(
            aliased(sql.text(edge.parent), sql.alias("parent")),
            aliased(sql.text(edge.composition), sql.alias("composition")),
            aliased(sql.ref(PERIOD), sql.alias("period")),
            aliased(parent, sql.alias("parent_value")),
            aliased(composed, sql.alias("composed_value")),
            aliased(residual, sql.alias("residual")),
            aliased(sql.div(residual.copy(), parent.copy()), sql.alias("relative_residual")),
        ).from_(sql.cte("tree_metrics"), copy=False)
        union = select if union is None else exp.union(union, select, distinct=False, copy=False)
    if union is None:  # the plan has a series only when it has edges
        raise InternalError(f"KPI tree `{plan.name}` has a series but no edge")
    select = (
        exp.select(*[sql.ref(c) for c in RECONCILE_COLUMNS])
        .from_(
            exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("edges"))),
            copy=False,
        )
        .order_by(sql.ref("parent"), sql.ref("period"), copy=False)
    )
    with_ctes(select, ctes)
    return select


def _nothing_to_reconcile(sql: SqlBuilder) -> exp.Select:
    """The reconciliation columns, typed, and no rows: a tree of `drivers(…)` edges only."""
    types = ("VARCHAR", "VARCHAR", sql.timestamp_type, "DOUBLE", "DOUBLE", "DOUBLE",
             "DOUBLE")
    return exp.select(
        *[aliased(sql.typed_null(kind), sql.alias(column))
          for column, kind in zip(RECONCILE_COLUMNS, types, strict=True)]
    ).limit(0, copy=False)


def _binary(sql: SqlBuilder):  # type: ignore[no-untyped-def]
    def binary(op: str, a: exp.Expr, b: exp.Expr) -> exp.Expr:
        if op == "/":
            return sql.div(a, b)
        node = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[op]
        return exp.Paren(this=node(this=a, expression=b))

    return binary
