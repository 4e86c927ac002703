"""SQL for a monitor's series: every window of its range with its value, sample size, the
baseline it is judged against, the limit the rule compares the value with, and whether it is
in alert; one statement built on the same judgment as the alert query (`monitor_sql.judge`),
so the windows with `alert` = 1 are exactly the rows of the alert query.

CTEs after those of the alert query:

    alerting   the judged windows (`judge().source`) with `__alert`: the alert query's
               condition, as 0 or 1
    against    each judged window with the baseline it is compared with: for a baseline
               rule, the baseline frozen before its run when a run covers it, else its own
               trailing baseline P(t) (the one it would start a run against)

The body takes every window of `series_out` from the range's start (windows below `min_n` or
without a value are `judged` = 0, with no baseline, limit or alert) and joins `against`.
"""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp

from metricspec.emit.joining import joining
from metricspec.emit.metric_sql import PERIOD
from metricspec.emit.monitor_sql import ROW, breach_rule, judge, same_series
from metricspec.emit.sqlbuild import SqlBuilder, aliased, with_ctes
from metricspec.plan.monitor import N_COLUMN, MonitorPlan

SERIES_COLUMNS = ("period", "value", "sample_n", "judged", "baseline", "baseline_windows",
                  "alert_limit", "deviation", "alert")
ALERT = "__alert"
_FRAME = ("baseline", "baseline_sd", "baseline_windows")


def monitor_series_sql(plan: MonitorPlan, sql: SqlBuilder) -> exp.Select:
    # every window of the range, events or not: the page draws gaps where none was judged
    # (the alert query judges the windows with rows, which are the only ones that can alert)
    plan = replace(plan, series=replace(plan.series, dense=True))
    judged = judge(plan, sql)
    ctes, keys, dims = judged.ctes, judged.keys, judged.dims
    alerting = exp.select(
        exp.Star(),
        aliased(sql.when(judged.condition, exp.Literal.number(1), exp.Literal.number(0)),
                sql.alias(ALERT)),
    ).from_(sql.cte(judged.source), copy=False)
    ctes.append(("alerting", alerting))
    ctes.append(("against", _against(plan, sql, keys, dims)))

    value, baseline, sd, windows = (sql.ref(c, "a") for c in ("value", *_FRAME))
    _, deviation = breach_rule(plan, sql, value, baseline, sd, windows)
    judged_flag = sql.when(exp.Is(this=sql.ref(PERIOD, "a"), expression=exp.Null()),
                           exp.Literal.number(0), exp.Literal.number(1))
    select = exp.select(
        *[aliased(sql.ref(k, "o"), sql.alias(k)) for k in keys],
        aliased(sql.ref(plan.metric, "o"), sql.alias("value")),
        aliased(sql.ref(N_COLUMN, "o"), sql.alias("sample_n")),
        aliased(judged_flag, sql.alias("judged")),
        aliased(baseline.copy(), sql.alias("baseline")),
        aliased(windows.copy(), sql.alias("baseline_windows")),
        aliased(_limit(plan, sql, judged_flag.copy(), baseline, sd, windows),
                sql.alias("alert_limit")),
        aliased(deviation, sql.alias("deviation")),
        aliased(exp.Coalesce(this=sql.ref(ALERT, "a"), expressions=[exp.Literal.number(0)]),
                sql.alias("alert")),
    ).from_(aliased(exp.Table(this=exp.to_identifier("series_out")), "o"), copy=False)
    select = select.join(
        joining(aliased(exp.Table(this=exp.to_identifier("against")), "a"), "left"),
        on=exp.and_(
            exp.EQ(this=sql.ref(PERIOD, "a"), expression=sql.ref(PERIOD, "o")),
            *same_series(sql, dims, "a", "o"),
        ),
        copy=False,
    )
    if plan.start is not None:
        select = select.where(
            exp.GTE(this=sql.ref(PERIOD, "o"), expression=sql.ts(plan.start)), copy=False)
    select = select.order_by(*[sql.ref(k, "o") for k in keys], copy=False)
    with_ctes(select, ctes)
    return select


def _against(plan: MonitorPlan, sql: SqlBuilder, keys: list[str], dims: list[str]
             ) -> exp.Select:
    """Every judged window with the baseline it is compared with (see the module doc)."""
    head = [*[aliased(sql.ref(k, "f"), sql.alias(k)) for k in keys],
            aliased(sql.ref("value", "f"), sql.alias("value")),
            aliased(sql.ref(ALERT, "f"), sql.alias(ALERT))]
    table = aliased(exp.Table(this=exp.to_identifier("alerting")), "f")
    if not plan.has_baseline:
        return exp.select(
            *head,
            aliased(sql.typed_null("DOUBLE"), sql.alias("baseline")),
            aliased(sql.typed_null("DOUBLE"), sql.alias("baseline_sd")),
            aliased(exp.Literal.number(0), sql.alias("baseline_windows")),
        ).from_(table, copy=False)
    if not plan.frozen_runs:  # a threshold rule reports its baseline; an offset one is its own
        return exp.select(*head, *[aliased(sql.ref(c, "f"), sql.alias(c)) for c in _FRAME]
                          ).from_(table, copy=False)
    # `flagged` carries the frozen baseline of a window some run covers (breached = 1), and
    # NULLs elsewhere: there the window is compared with its own trailing baseline.
    covered = exp.EQ(this=sql.ref("breached", "f"), expression=exp.Literal.number(1))
    frame = [aliased(sql.when(covered.copy(), sql.ref(c, "f"), sql.ref(c, "w")), sql.alias(c))
             for c in _FRAME]
    return exp.select(*head, *frame).from_(table, copy=False).join(
        joining(aliased(exp.Table(this=exp.to_identifier("with_baseline")), "w"), "inner"),
        on=exp.and_(
            exp.EQ(this=sql.ref(ROW, "w"), expression=sql.ref(ROW, "f")),
            *same_series(sql, dims, "w", "f"),
        ),
        copy=False,
    )


def _limit(plan: MonitorPlan, sql: SqlBuilder, judged: exp.Expr, baseline: exp.Expr,
           sd: exp.Expr, windows: exp.Expr) -> exp.Expr:
    """The value the rule compares a window's value with: the baseline moved by the rule's
    margin (or its z-score times the baseline's sd), or the fixed threshold; NULL where no
    comparison is made (a window not judged, a baseline ≤ 0, fewer than two baseline windows
    or no spread for a z-score)."""
    t = plan.threshold
    if plan.rule in ("below_baseline", "above_baseline"):
        factor = 1 - t if plan.rule == "below_baseline" else 1 + t
        return sql.when(exp.GT(this=baseline.copy(), expression=exp.Literal.number(0)),
                        exp.Mul(this=baseline.copy(), expression=sql.num(factor)))
    if plan.rule in ("zscore_below", "zscore_above"):
        return sql.when(
            exp.and_(exp.GTE(this=windows.copy(), expression=exp.Literal.number(2)),
                     exp.GT(this=sd.copy(), expression=exp.Literal.number(0))),
            exp.Add(this=baseline.copy(),
                    expression=exp.Mul(this=sql.num(t), expression=sd.copy())))
    return sql.when(exp.EQ(this=judged, expression=exp.Literal.number(1)), sql.num(t))
