"""SQL for time transforms inside expressions (`plan.offsets`): offsets, growth, and rolling
or cumulative metrics in arithmetic.

The metric query of the components (`emit.metric_sql`, from the scan's earlier start) becomes
the CTE `components`, one row per period and dimensions; each distinct shift joins it once
more, at the period that far earlier:

    components   the components' metric query (its CTEs hoisted into this query's)
    final SELECT components `cur` LEFT JOIN components `s1` ON same dimensions AND
                 s1.period = cur.period - shift1 …, each metric's formula, the requested
                 periods only (`cur.period >= start`)

A shifted period outside the scanned range, or without a row (a sparse series), is NULL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sqlglot import exp

from metricspec.emit.joining import joining
from metricspec.emit.sqlbuild import WITH_KEY, SqlBuilder, aliased, with_ctes
from metricspec.plan.formula import Formula, fold
from metricspec.plan.lower import InternalError
from metricspec.plan.metric_query import MetricQueryPlan
from metricspec.plan.offsets import Shift, split_part

PERIOD = "period"
COMPONENTS = "components"


def series_sql(plan: MetricQueryPlan, sql: SqlBuilder,
               metric_query: Callable[[MetricQueryPlan, SqlBuilder], exp.Select]) -> exp.Select:
    """The metric query of a plan with a series plan (`plan.series`)."""
    series = plan.series
    if series is None:
        raise InternalError("a metric query without time transforms has no series SQL")
    inner = dataclasses.replace(plan, metrics=series.components, series=None)
    base = metric_query(inner, sql)
    with_ = base.args.get(WITH_KEY)
    ctes: list[tuple[str, exp.Expr]] = [
        (cte.alias, cte.this) for cte in (with_.expressions if with_ else [])]
    base.set(WITH_KEY, None)
    base.set("order", None)
    ctes.append((COMPONENTS, base))
    keys = [PERIOD, *plan.dimensions]
    select = exp.select(*[aliased(sql.ref(k, "cur"), sql.alias(k)) for k in keys])
    for metric in plan.metrics:
        select = select.select(aliased(_formula(metric.formula, sql), sql.alias(metric.name)),
                               copy=False)
    select = select.from_(aliased(sql.cte(COMPONENTS), "cur"), copy=False)
    for k, shift in enumerate(series.shifts):
        alias = f"s{k + 1}"
        on: list[exp.Expr] = [exp.NullSafeEQ(this=sql.ref(d, alias), expression=sql.ref(d, "cur"))
                              for d in plan.dimensions]
        on.append(exp.EQ(this=sql.ref(PERIOD, alias),
                         expression=earlier_period(sql.ref(PERIOD, "cur"), shift, sql)))
        select = select.join(joining(aliased(sql.cte(COMPONENTS), alias), "left"),
                             on=exp.and_(*on), copy=False)
    if series.start is not None:
        select = select.where(exp.GTE(this=sql.ref(PERIOD, "cur"),
                                      expression=sql.ts(series.start)), copy=False)
    select = select.order_by(*[sql.ref(k, "cur") for k in keys], copy=False)
    with_ctes(select, ctes)
    return select


def offset_baseline(sql: SqlBuilder, shift: Shift, keys: list[str], dims: list[str],
                    carried: list[str]) -> exp.Select:
    """A monitor's `baseline offset D`: each evaluated window (`carried` columns kept) with
    the value of the evaluated window D earlier as its baseline (NULL, and 0 baseline
    windows, when that window has too few events or no row: it cannot alert)."""
    earlier = aliased(exp.Table(this=exp.to_identifier("evaluated")), "prev")
    select = exp.select(*[aliased(sql.ref(c, "cur"), sql.alias(c)) for c in [*keys, *carried]],
                        aliased(sql.ref("value", "prev"), sql.alias("baseline")),
                        aliased(sql.typed_null("DOUBLE"), sql.alias("baseline_sd")),
                        aliased(sql.when(exp.Is(this=sql.ref("value", "prev"),
                                                expression=exp.Null()),
                                 exp.Literal.number(0), exp.Literal.number(1)
                                 ), sql.alias("baseline_windows")))
    on: list[exp.Expr] = [exp.NullSafeEQ(this=sql.ref(d, "prev"), expression=sql.ref(d, "cur"))
                          for d in dims]
    on.append(exp.EQ(this=sql.ref(PERIOD, "prev"),
                     expression=earlier_period(sql.ref(PERIOD, "cur"), shift, sql)))
    select = select.from_(aliased(exp.Table(this=exp.to_identifier("evaluated")), "cur"),
                          copy=False)
    return select.join(joining(earlier, "left"), on=exp.and_(*on), copy=False)


def earlier_period(period: exp.Expr, shift: Shift, sql: SqlBuilder) -> exp.Expr:
    if shift.months is not None:
        return sql.add_months(period, -shift.months)
    return sql.ts_add(period, -(shift.seconds or 0))


def _formula(formula: Formula, sql: SqlBuilder) -> exp.Expr:
    """A metric's formula over the components: `c` from `cur`, `c@k` from the k-th shift."""
    def part(name: str) -> exp.Expr:
        component, k = split_part(name)
        return sql.ref(component, "cur" if k is None else f"s{k + 1}")

    def binary(op: str, a: exp.Expr, b: exp.Expr) -> exp.Expr:
        if op == "/":
            return sql.div(a, b)
        node = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[op]
        return exp.Paren(this=node(this=a, expression=b))

    return fold(formula, sql.num, part, binary, lambda a: exp.Neg(this=a))
