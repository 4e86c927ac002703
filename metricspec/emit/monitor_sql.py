"""SQL for monitors and guardrails: the metric per window, a trailing baseline and the alert
rule, returning only the windows in alert (see `plan.monitor` for the semantics).

CTEs, in order:

    series_out     the metric and its sample size per window (and dimension values)
    evaluated      windows with n ≥ min_n and a value, numbered per series (`__row`)
    with_baseline  each window's trailing baseline P: the evaluated windows in
                   [period − baseline, period) (only with a baseline); with `baseline
                   offset D`, the evaluated window D earlier (each window judged on its own)
    run_starts     windows that breach their own trailing baseline P (baseline rules)
    runs           for each such start s, where its run ends: the first later window within
                   one baseline length that does not breach P(s), the baseline frozen at s
    anchors        for each window inside some run, the earliest start whose run covers it
    flagged        every window, breached or not, with the baseline it is judged against
    streaks        breaches in the last N windows (only with `for N windows`)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from metricspec.emit.joining import joining
from metricspec.emit.metric_sql import PERIOD, metric_query_sql
from metricspec.emit.offset_sql import earlier_period, offset_baseline
from metricspec.emit.sqlbuild import WITH_KEY, SqlBuilder, aliased, with_ctes
from metricspec.plan.monitor import N_COLUMN, MonitorPlan

ALERT_COLUMNS = ("period", "value", "sample_n", "baseline", "baseline_windows", "deviation")
ROW, ROWS, RUN_END, ANCHOR = "__row", "__rows", "__run_end", "__anchor"
_BASELINE = ("baseline", "baseline_sd", "baseline_windows")


def hoist(select: exp.Select) -> tuple[list[tuple[str, exp.Expr]], exp.Select]:
    """Split a query into its CTEs and its body, so they can join an outer WITH."""
    with_ = select.args.get(WITH_KEY)
    body = select.copy()
    body.set(WITH_KEY, None)
    body.set("order", None)
    ctes = [(cte.alias, cte.this) for cte in (with_.expressions if with_ else [])]
    return ctes, body


@dataclass(frozen=True)
class Judged:
    """The CTEs that judge every window, and where the judgment ends: `source` is the CTE
    with each evaluated window's `breached` flag (and `streak`), `condition` is true of
    exactly the windows in alert. The alert query and the series query share it."""

    ctes: list[tuple[str, exp.Expr]]
    keys: list[str]
    dims: list[str]
    source: str
    condition: exp.Expr


def monitor_sql(plan: MonitorPlan, sql: SqlBuilder) -> exp.Select:
    judged = judge(plan, sql)
    keys = judged.keys
    baseline_columns = (
        [sql.ref("baseline"), sql.ref("baseline_windows")]
        if plan.has_baseline
        else [
            aliased(sql.typed_null("DOUBLE"), sql.alias("baseline")),
            aliased(exp.Literal.number(0), sql.alias("baseline_windows")),
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
        select.from_(sql.cte(judged.source), copy=False)
        .where(judged.condition, copy=False)
        .order_by(*[sql.ref(k) for k in keys], copy=False)
    )
    with_ctes(select, judged.ctes)
    return select


def judge(plan: MonitorPlan, sql: SqlBuilder) -> Judged:
    ctes, body = hoist(metric_query_sql(plan.series, sql))
    ctes.append(("series_out", body))
    dims = list(plan.series.dimensions)
    keys = [PERIOD, *dims]
    ctes.append(("evaluated", _evaluated(plan, sql, keys, dims)))
    if plan.baseline_offset is not None:  # the same window earlier (emit.offset_sql)
        ctes.append(("with_baseline", offset_baseline(sql, plan.baseline_offset, keys, dims,
                                                      [ROW, ROWS, "value", "sample_n"])))
    elif plan.baseline_seconds:
        ctes.append(("with_baseline", _baseline(plan, sql, keys, dims)))
    if plan.frozen_runs:
        ctes.extend(_frozen_runs(plan, sql, keys, dims))
    else:
        source = "with_baseline" if plan.has_baseline else "evaluated"
        breached, deviation = breach_rule(plan, sql, *_judged(sql, None))
        flagged = exp.select(
            exp.Star(),
            aliased(sql.when(breached, exp.Literal.number(1), exp.Literal.number(0)),
                    sql.alias("breached")),
            aliased(deviation, sql.alias("deviation")),
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
                exp.select(exp.Star(), aliased(streak, sql.alias("streak"))).from_(
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
    return Judged(ctes, keys, dims, source, condition)


def monitor_coverage_sql(plan: MonitorPlan, sql: SqlBuilder) -> exp.Select:
    """How many windows of the monitor's range exist and how many could be judged (n ≥ min_n
    and a value): one row, `windows` and `judged`. Run when no window is in alert, so that a
    range without enough data reads "insufficient data", never "no alert"."""
    ctes, body = hoist(metric_query_sql(plan.series, sql))
    ctes.append(("series_out", body))
    earlier = plan.baseline_offset is not None and plan.needs_baseline
    table = "cur" if earlier else None

    def judgeable(at: str | None) -> exp.Expr:
        return exp.and_(
            exp.GTE(this=sql.ref(N_COLUMN, at), expression=exp.Literal.number(plan.min_n)),
            exp.Not(this=exp.Is(this=sql.ref(plan.metric, at), expression=exp.Null())))

    # against an offset baseline, a window is judged only when its earlier window is too
    judged = exp.and_(judgeable(table), judgeable("prev")) if earlier else judgeable(None)
    select = exp.select(
        aliased(exp.Count(this=exp.Star()), sql.alias("windows")),
        aliased(exp.Count(this=sql.when(judged, exp.Literal.number(1))), sql.alias("judged")),
    ).from_(aliased(sql.cte("series_out"), table) if table else sql.cte("series_out"), copy=False)
    if earlier and plan.baseline_offset is not None:
        on = exp.and_(
            *same_series(sql, list(plan.series.dimensions), "prev", "cur"),
            exp.EQ(this=sql.ref(PERIOD, "prev"), expression=earlier_period(
                sql.ref(PERIOD, "cur"), plan.baseline_offset, sql)))
        select = select.join(joining(aliased(sql.cte("series_out"), "prev"), "left"),
                             on=on, copy=False)
    if plan.start is not None:
        select = select.where(exp.GTE(this=sql.ref(PERIOD, table),
                                      expression=sql.ts(plan.start)), copy=False)
    with_ctes(select, ctes)
    return select


def _evaluated(plan: MonitorPlan, sql: SqlBuilder, keys: list[str], dims: list[str]
               ) -> exp.Select:
    """The windows that are judged at all: n ≥ min_n and a value. Fewer events is
    "insufficient data": such a window never alerts, is no part of any baseline, and a run
    or streak steps over it. `__row` numbers the evaluated windows of each series."""
    value = sql.ref(plan.metric)
    by = [sql.ref(d) for d in dims] or None
    evaluated = exp.select(
        *[sql.ref(k) for k in keys],
        aliased(value, sql.alias("value")),
        aliased(sql.ref(N_COLUMN), sql.alias("sample_n")),
        aliased(exp.Window(
            this=exp.RowNumber(),
            partition_by=by,
            order=exp.Order(expressions=[sql.asc(sql.ref(PERIOD))]),
        ), sql.alias(ROW)),
        aliased(exp.Window(
            this=exp.Count(this=exp.Star()), partition_by=[d.copy() for d in by or []] or None
        ), sql.alias(ROWS)),
    ).from_(sql.cte("series_out"), copy=False)
    return evaluated.where(
        exp.and_(
            exp.GTE(this=sql.ref(N_COLUMN), expression=exp.Literal.number(plan.min_n)),
            exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null())),
        ),
        copy=False,
    )


def _baseline(plan: MonitorPlan, sql: SqlBuilder, keys: list[str], dims: list[str]) -> exp.Select:
    """P(t): mean, sample sd and count of the evaluated windows in [t − baseline, t)."""
    assert plan.baseline_seconds
    cur_keys = [sql.ref(k, "cur") for k in [*keys, ROW, ROWS]]
    select = exp.select(
        *[aliased(k.copy(), sql.alias(k.name)) for k in cur_keys],
        aliased(sql.ref("value", "cur"), sql.alias("value")),
        aliased(sql.ref("sample_n", "cur"), sql.alias("sample_n")),
        aliased(exp.Avg(this=sql.ref("value", "prev")), sql.alias("baseline")),
        aliased(exp.StddevSamp(this=sql.ref("value", "prev")), sql.alias("baseline_sd")),
        aliased(exp.Count(this=sql.ref("value", "prev")), sql.alias("baseline_windows")),
    )
    on: list[exp.Expr] = same_series(sql, dims, "prev", "cur")
    on += [
        exp.GTE(
            this=sql.ref(PERIOD, "prev"),
            expression=sql.ts_add(sql.ref(PERIOD, "cur"), -plan.baseline_seconds),
        ),
        exp.LT(this=sql.ref(PERIOD, "prev"), expression=sql.ref(PERIOD, "cur")),
    ]
    select = select.from_(aliased(exp.Table(this=exp.to_identifier("evaluated")), "cur"),
                          copy=False)
    select = select.join(
        joining(aliased(exp.Table(this=exp.to_identifier("evaluated")), "prev"), "left"),
        on=exp.and_(*on),
        copy=False,
    )
    return select.group_by(
        *cur_keys, sql.ref("value", "cur"), sql.ref("sample_n", "cur"), copy=False
    )


def _frozen_runs(plan: MonitorPlan, sql: SqlBuilder, keys: list[str], dims: list[str]
                 ) -> list[tuple[str, exp.Expr]]:
    """A baseline rule judges a window against the baseline frozen before its run began.

    A *run* starts at a window s that breaches its own trailing baseline P(s) and lasts while
    the following evaluated windows breach P(s) too, for at most one baseline length: it
    ends at the first window that does not, or at s + baseline. A window is breached when
    some run covers it, and is judged against the baseline of the earliest such run. So the
    windows of an incident never lower (or raise) the baseline the rest of it is compared
    with: a one-hour drop under a one-hour baseline alerts in every window of the hour, and
    the first normal window ends the run. The length limit keeps a run from outliving its
    frozen frame: a baseline taken during an earlier anomaly (the dip before a recovery)
    cannot make every later window alert, and a lasting change becomes the new normal after
    one baseline length, as with a plain trailing baseline.

    This needs no recursion (which not every warehouse has): whether window u continues the
    run from s depends only on u and on P(s), so each start finds its end with one join
    (the smallest later `__row` within the length that does not breach P(s)), and each
    window finds its earliest covering start with another. Both joins are range joins over
    one baseline length from the starts, which are rare (windows that breach their own
    trailing baseline). With a `start`, runs are followed back to `plan.anchor_from`.
    """
    candidate, _ = breach_rule(plan, sql, *_judged(sql, None))
    starts = exp.select(
        *[sql.ref(c) for c in (PERIOD, *dims, ROW, ROWS, *_BASELINE)]
    ).from_(sql.cte("with_baseline"), copy=False)
    if plan.anchor_from is not None:
        candidate = exp.and_(
            candidate, exp.GTE(this=sql.ref(PERIOD), expression=sql.ts(plan.anchor_from))
        )
    starts = starts.where(candidate, copy=False)

    assert plan.baseline_seconds
    length = plan.baseline_seconds
    held, _ = breach_rule(plan, sql, sql.ref("value", "u"), *_judged(sql, "s")[1:])
    on = [
        *same_series(sql, dims, "u", "s"),
        exp.GT(this=sql.ref(ROW, "u"), expression=sql.ref(ROW, "s")),
        exp.LT(this=sql.ref(PERIOD, "u"), expression=sql.ts_add(sql.ref(PERIOD, "s"), length)),
        exp.Not(this=exp.Paren(this=held)),
    ]
    group = [sql.ref(c, "s") for c in (PERIOD, *dims, ROW, ROWS, *_BASELINE)]
    end = exp.Coalesce(
        this=exp.Min(this=sql.ref(ROW, "u")),
        expressions=[exp.Add(this=sql.ref(ROWS, "s"), expression=exp.Literal.number(1))],
    )
    runs = (
        exp.select(*[aliased(g.copy(), sql.alias(g.name)) for g in group],
                   aliased(end, sql.alias(RUN_END)))
        .from_(aliased(exp.Table(this=exp.to_identifier("run_starts")), "s"), copy=False)
        .join(
            joining(aliased(exp.Table(this=exp.to_identifier("evaluated")), "u"), "left"),
            on=exp.and_(*on),
            copy=False,
        )
        .group_by(*group, copy=False)
    )

    covered = [
        *same_series(sql, dims, "r", "t"),
        exp.LTE(this=sql.ref(ROW, "r"), expression=sql.ref(ROW, "t")),
        exp.LT(this=sql.ref(ROW, "t"), expression=sql.ref(RUN_END, "r")),
        exp.LT(this=sql.ref(PERIOD, "t"), expression=sql.ts_add(sql.ref(PERIOD, "r"), length)),
    ]
    anchor_keys = [sql.ref(c, "t") for c in (*dims, ROW)]
    anchors = (
        exp.select(
            *[aliased(k.copy(), sql.alias(k.name)) for k in anchor_keys],
            aliased(exp.Min(this=sql.ref(ROW, "r")), sql.alias(ANCHOR)),
        )
        .from_(aliased(exp.Table(this=exp.to_identifier("evaluated")), "t"), copy=False)
        .join(
            joining(aliased(exp.Table(this=exp.to_identifier("runs")), "r"), "inner"),
            on=exp.and_(*covered),
            copy=False,
        )
        .group_by(*anchor_keys, copy=False)
    )

    _, deviation = breach_rule(plan, sql, sql.ref("value", "e"), *_judged(sql, "r")[1:])
    flagged = exp.select(
        *[aliased(sql.ref(c, "e"), sql.alias(c)) for c in (*keys, "value", "sample_n", ROW)],
        *[aliased(sql.ref(c, "r"), sql.alias(c)) for c in _BASELINE],
        aliased(sql.when(
            exp.Not(this=exp.Is(this=sql.ref(ANCHOR, "a"), expression=exp.Null())),
            exp.Literal.number(1),
            exp.Literal.number(0),
        ), sql.alias("breached")),
        aliased(deviation, sql.alias("deviation")),
    ).from_(aliased(exp.Table(this=exp.to_identifier("evaluated")), "e"), copy=False)
    flagged = flagged.join(
        joining(aliased(exp.Table(this=exp.to_identifier("anchors")), "a"), "left"),
        on=exp.and_(
            *same_series(sql, dims, "a", "e"),
            exp.EQ(this=sql.ref(ROW, "a"), expression=sql.ref(ROW, "e")),
        ),
        copy=False,
    ).join(
        joining(aliased(exp.Table(this=exp.to_identifier("runs")), "r"), "left"),
        on=exp.and_(
            *same_series(sql, dims, "r", "e"),
            exp.EQ(this=sql.ref(ROW, "r"), expression=sql.ref(ANCHOR, "a")),
        ),
        copy=False,
    )
    return [("run_starts", starts), ("runs", runs), ("anchors", anchors), ("flagged", flagged)]


def same_series(sql: SqlBuilder, dims: list[str], left: str, right: str) -> list[exp.Expr]:
    return [exp.NullSafeEQ(this=sql.ref(d, left), expression=sql.ref(d, right)) for d in dims]


def _judged(sql: SqlBuilder, table: str | None) -> tuple[exp.Expr, exp.Expr, exp.Expr, exp.Expr]:
    """(value, baseline, baseline_sd, baseline_windows) of one table (or unqualified)."""
    return (
        sql.ref("value", table),
        sql.ref("baseline", table),
        sql.ref("baseline_sd", table),
        sql.ref("baseline_windows", table),
    )


def breach_rule(
    plan: MonitorPlan,
    sql: SqlBuilder,
    value: exp.Expr,
    baseline: exp.Expr,
    sd: exp.Expr,
    windows: exp.Expr,
) -> tuple[exp.Expr, exp.Expr]:
    """The breach condition of `value` against a baseline, and the deviation reported."""
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
        z = sql.div(
            exp.Paren(this=exp.Sub(this=value.copy(), expression=baseline.copy())), sd.copy()
        )
        compare = exp.LT if plan.rule == "zscore_below" else exp.GT
        breached = exp.and_(
            exp.GTE(this=windows.copy(), expression=exp.Literal.number(2)),
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
