"""SQL for monitors and guardrails: the metric per window, a trailing baseline and the alert
rule, returning only the windows in alert (see `plan.monitor` for the semantics)."""

from __future__ import annotations

from sqlglot import exp

from metricspec.emit.metric_sql import PERIOD, metric_query_sql
from metricspec.emit.sqlbuild import WITH_KEY, SqlBuilder, with_ctes
from metricspec.plan.monitor import N_COLUMN, MonitorPlan

ALERT_COLUMNS = ("period", "value", "sample_n", "baseline", "baseline_windows", "deviation")


def hoist(select: exp.Select) -> tuple[list[tuple[str, exp.Expr]], exp.Select]:
    """Split a query into its CTEs and its body, so they can join an outer WITH."""
    with_ = select.args.get(WITH_KEY)
    body = select.copy()
    body.set(WITH_KEY, None)
    body.set("order", None)
    ctes = [(cte.alias, cte.this) for cte in (with_.expressions if with_ else [])]
    return ctes, body


def monitor_sql(plan: MonitorPlan, sql: SqlBuilder) -> exp.Select:
    ctes, body = hoist(metric_query_sql(plan.series, sql))
    ctes.append(("series_out", body))
    dims = list(plan.series.dimensions)
    keys = [PERIOD, *dims]
    value = sql.ref(plan.metric)
    evaluated = exp.select(
        *[sql.ref(k) for k in keys],
        value.as_(sql.alias("value")),
        sql.ref(N_COLUMN).as_(sql.alias("sample_n")),
    ).from_(sql.cte("series_out"), copy=False)
    evaluated = evaluated.where(
        exp.and_(
            exp.GTE(this=sql.ref(N_COLUMN), expression=exp.Literal.number(plan.min_n)),
            exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null())),
        ),
        copy=False,
    )
    ctes.append(("evaluated", evaluated))
    source = "evaluated"
    if plan.baseline_seconds:
        ctes.append(("with_baseline", _baseline(plan, sql, keys, dims)))
        source = "with_baseline"
    breached, deviation = _rule(plan, sql)
    flagged = exp.select(
        exp.Star(),
        sql.when(breached, exp.Literal.number(1), exp.Literal.number(0)).as_(sql.alias("breached")),
        deviation.as_(sql.alias("deviation")),
    ).from_(sql.cte(source), copy=False)
    ctes.append(("flagged", flagged))
    source = "flagged"
    condition: exp.Expr = exp.EQ(this=sql.ref("breached"), expression=exp.Literal.number(1))
    if plan.consecutive > 1:
        streak = exp.Window(
            this=exp.Sum(this=sql.ref("breached")),
            partition_by=[sql.ref(d) for d in dims] or None,
            order=exp.Order(expressions=[sql.asc(sql.ref(PERIOD))]),
            spec=exp.WindowSpec(
                kind="ROWS",
                start=exp.Literal.number(plan.consecutive - 1),
                start_side="PRECEDING",
                end="CURRENT ROW",
            ),
        )
        ctes.append(
            (
                "streaks",
                exp.select(exp.Star(), streak.as_(sql.alias("streak"))).from_(
                    "flagged", copy=False
                ),
            )
        )
        source = "streaks"
        condition = exp.GTE(this=sql.ref("streak"), expression=exp.Literal.number(plan.consecutive))
    if plan.start is not None:
        condition = exp.and_(
            condition, exp.GTE(this=sql.ref(PERIOD), expression=sql.ts(plan.start))
        )
    baseline_columns = (
        [sql.ref("baseline"), sql.ref("baseline_windows")]
        if plan.baseline_seconds
        else [
            sql.typed_null("DOUBLE").as_(sql.alias("baseline")),
            exp.Literal.number(0).as_(sql.alias("baseline_windows")),
        ]
    )
    select = exp.select(
        *[sql.ref(k) for k in keys],
        sql.ref("value"),
        sql.ref("sample_n"),
        *baseline_columns,
        sql.ref("deviation"),
    )
    select = (
        select.from_(sql.cte(source), copy=False)
        .where(condition, copy=False)
        .order_by(*[sql.ref(k) for k in keys], copy=False)
    )
    with_ctes(select, ctes)
    return select


def _baseline(plan: MonitorPlan, sql: SqlBuilder, keys: list[str], dims: list[str]) -> exp.Select:
    assert plan.baseline_seconds
    cur_keys = [sql.ref(k, "cur") for k in keys]
    select = exp.select(
        *[k.copy().as_(sql.alias(k.name)) for k in cur_keys],
        sql.ref("value", "cur").as_(sql.alias("value")),
        sql.ref("sample_n", "cur").as_(sql.alias("sample_n")),
        exp.Avg(this=sql.ref("value", "prev")).as_(sql.alias("baseline")),
        exp.StddevSamp(this=sql.ref("value", "prev")).as_(sql.alias("baseline_sd")),
        exp.Count(this=sql.ref("value", "prev")).as_(sql.alias("baseline_windows")),
    )
    on: list[exp.Expr] = [
        exp.NullSafeEQ(this=sql.ref(d, "prev"), expression=sql.ref(d, "cur")) for d in dims
    ]
    on += [
        exp.GTE(
            this=sql.ref(PERIOD, "prev"),
            expression=sql.ts_add(sql.ref(PERIOD, "cur"), -plan.baseline_seconds),
        ),
        exp.LT(this=sql.ref(PERIOD, "prev"), expression=sql.ref(PERIOD, "cur")),
    ]
    select = select.from_(exp.Table(this=exp.to_identifier("evaluated")).as_("cur"), copy=False)
    select = select.join(
        exp.Table(this=exp.to_identifier("evaluated")).as_("prev"),
        on=exp.and_(*on),
        join_type="left",
        copy=False,
    )
    return select.group_by(
        *cur_keys, sql.ref("value", "cur"), sql.ref("sample_n", "cur"), copy=False
    )


def _rule(plan: MonitorPlan, sql: SqlBuilder) -> tuple[exp.Expr, exp.Expr]:
    """The breach condition and the deviation reported with it."""
    value, baseline = sql.ref("value"), sql.ref("baseline")
    threshold = sql.num(plan.threshold)
    if plan.rule in ("below_baseline", "above_baseline"):
        sign = -1 if plan.rule == "below_baseline" else 1
        bound = exp.Mul(this=baseline.copy(), expression=sql.num(1 + sign * plan.threshold))
        compare = exp.LT if sign < 0 else exp.GT
        breached = exp.and_(
            exp.GT(this=baseline.copy(), expression=exp.Literal.number(0)),
            compare(this=value.copy(), expression=bound),
        )
        deviation = exp.Sub(
            this=sql.div(value.copy(), baseline.copy()), expression=exp.Literal.number(1)
        )
        return breached, deviation
    if plan.rule in ("zscore_below", "zscore_above"):
        sd = sql.ref("baseline_sd")
        z = sql.div(
            exp.Paren(this=exp.Sub(this=value.copy(), expression=baseline.copy())), sd.copy()
        )
        compare = exp.LT if plan.rule == "zscore_below" else exp.GT
        breached = exp.and_(
            exp.GTE(this=sql.ref("baseline_windows"), expression=exp.Literal.number(2)),
            exp.GT(this=sd.copy(), expression=exp.Literal.number(0)),
            compare(this=z.copy(), expression=threshold),
        )
        return breached, z
    comparisons: dict[str, type[exp.Binary]] = {
        "below": exp.LT,
        "above": exp.GT,
        "at_or_below": exp.LTE,
        "at_or_above": exp.GTE,
    }
    threshold_compare = comparisons[plan.rule]
    return (
        threshold_compare(this=value.copy(), expression=threshold),
        exp.Sub(this=value.copy(), expression=threshold.copy()),
    )
