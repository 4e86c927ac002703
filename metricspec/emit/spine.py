"""Dense series: one row per period of the range (and per dimension value), events or not.

The metric query's blocks (`<source>_agg`, `<conv>_agg`) hold the periods that had rows.
This module builds, in SQL, every period of the range (the *spine*) and joins the blocks
to it, so a period without events is a row whose counts and sums are 0 (means: NULL):

    spine_keys     every (period, dimensions) a block produced
    spine_bounds   the first and last period (`lo`, `hi`) and the number of steps between
    spine_numbers  0 .. that number, one row each (the backend's `[spellings] spine_numbers`)
    spine_periods  `lo` + n steps: each period (calendar grains: each day, truncated)
    spine_dims     every combination of dimension values a block produced (with dimensions)
    series         periods × dimension values, each block joined on (period, dimensions)

Range: from the period of the query's start (less the longest rolling window, so trailing
windows are whole at the first period; for cumulative metrics from the first period with
data, or the start's if earlier) to the period of the last instant before its end; a
range without a start or an end takes it from the first or last period with data.
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from metricspec.emit import calendar_sql
from metricspec.emit.joining import joining
from metricspec.emit.sqlbuild import SqlBuilder, aliased, data_type
from metricspec.emit.zones import local_time
from metricspec.plan.formula import parts
from metricspec.plan.lower import InternalError, Measure, WindowSpec
from metricspec.plan.metric_query import MetricQueryPlan

PERIOD = "period"
DAY = 86400
#: Measures whose value over no rows is 0 (a period without events counts nothing).
ZERO_WHEN_EMPTY = ("count", "count_distinct", "sum")


def dense_series(plan: MetricQueryPlan, blocks: list[tuple[str, list[str]]],
                 measures: dict[str, Measure], sql: SqlBuilder,
                 ctes: list[tuple[str, exp.Expr]]) -> str:
    """Append the spine's CTEs and the dense `series` to `ctes`; return `series`."""
    keys = [PERIOD, *plan.dimensions]
    union: exp.Query | None = None
    for name, _ in blocks:
        part = exp.select(*[sql.ref(k) for k in keys]).from_(sql.cte(name), copy=False)
        union = part if union is None else exp.union(union, part, distinct=True, copy=False)
    assert union is not None, "a metric query has one block or more"
    ctes.append(("spine_keys", union))
    ctes.append(("spine_bounds", _bounds(plan, sql)))
    ctes.append(("spine_numbers", sql.spine_numbers(sql.ref("last_n", "spine_bounds"))))
    ctes.append(("spine_periods", _periods(plan, sql)))
    select = exp.select(aliased(sql.ref(PERIOD, "p"), sql.alias(PERIOD)))
    select = select.from_(aliased(sql.cte("spine_periods"), "p"), copy=False)
    key_tables = {PERIOD: "p"}
    if plan.dimensions:
        dims = exp.select(*[sql.ref(d) for d in plan.dimensions]).distinct()
        ctes.append(("spine_dims", dims.from_(sql.cte("spine_keys"), copy=False)))
        select = select.select(*[aliased(sql.ref(d, "d"), sql.alias(d)) for d in plan.dimensions],
                               copy=False)
        select = select.join(joining(aliased(sql.cte("spine_dims"), "d"), "cross"), copy=False)
        key_tables.update({d: "d" for d in plan.dimensions})
    for name, columns in blocks:
        on = [exp.NullSafeEQ(this=sql.ref(k, name), expression=sql.ref(k, table))
              for k, table in key_tables.items()]
        select = select.join(joining(sql.cte(name), "left"), on=exp.and_(*on), copy=False)
        for column in columns:
            value: exp.Expr = sql.ref(column, name)
            measure = measures.get(column)
            if measure is None or (measure.func in ZERO_WHEN_EMPTY  # conversions count
                                   and measure.semi is None):  # a balance: NULL unobserved
                # 0 where the block has no row; a sum of NULLs in a period with rows stays NULL
                missing = exp.Is(this=sql.ref(PERIOD, name), expression=exp.Null())
                value = sql.when(missing, exp.Literal.number(0), value)
            select = select.select(aliased(value, sql.alias(column)), copy=False)
    ctes.append(("series", select))
    return "series"


def _bounds(plan: MetricQueryPlan, sql: SqlBuilder) -> exp.Select:
    """One row: the first and last period of the spine and how many steps lie between."""
    period = sql.ref(PERIOD)
    first: exp.Expr = exp.Min(this=period.copy())
    if plan.start is not None:
        reach = (plan.read_from if plan.calendar_windows else
                 plan.start - dt.timedelta(seconds=plan.lookback_seconds))
        assert reach is not None
        start = sql.bucket(sql.ts(reach), plan.grain)
        first = start
        if plan.cumulative:  # the earlier of the first period with data and the start's
            first = sql.when(exp.LT(this=exp.Min(this=period.copy()), expression=start.copy()),
                             exp.Min(this=period.copy()), start.copy())
    last: exp.Expr = exp.Max(this=period.copy())
    if plan.end is not None:
        last = sql.bucket(sql.ts(plan.end - dt.timedelta(seconds=1)), plan.grain)
    step = plan.grain.seconds or DAY
    steps = exp.Floor(this=exp.Div(
        this=exp.Paren(this=exp.Sub(this=sql.epoch_seconds(sql.ref("hi", "b")),
                                    expression=sql.epoch_seconds(sql.ref("lo", "b")))),
        expression=exp.Literal.number(step)))
    inner = exp.select(aliased(first, sql.alias("lo")), aliased(last, sql.alias("hi")))
    if plan.start is None or plan.end is None or plan.cumulative:  # an aggregate: one row
        inner = inner.from_(sql.cte("spine_keys"), copy=False)
    return exp.select(
        aliased(sql.ref("lo", "b"), sql.alias("lo")), aliased(sql.ref("hi", "b"), sql.alias("hi")),
        aliased(exp.Cast(this=steps, to=data_type("BIGINT")), sql.alias("last_n")),
    ).from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("b"))),
            copy=False)


def _periods(plan: MetricQueryPlan, sql: SqlBuilder) -> exp.Select:
    """`lo` + n steps for every n; a calendar grain steps by days and truncates each."""
    step = plan.grain.seconds
    offset = exp.Mul(this=sql.ref("n", "s"), expression=exp.Literal.number(step or DAY))
    moment: exp.Expr = exp.TimestampAdd(this=sql.ref("lo", "b"), expression=offset,
                                        unit=exp.var("SECOND"))
    if step is None:
        moment = sql.bucket(moment, plan.grain)
    select = exp.select(aliased(moment, sql.alias(PERIOD)))
    if step is None:
        select = select.distinct()
    select = select.from_(aliased(sql.cte("spine_bounds"), "b"), copy=False)
    select = select.join(joining(aliased(sql.cte("spine_numbers"), "s"), "cross"), copy=False)
    return select.where(exp.LTE(this=moment.copy(), expression=sql.ref("hi", "b")), copy=False)


def rolled_name(part: str, length: int, longest: int) -> str:
    """A part's column over a trailing window of `length` seconds (the query's longest
    window keeps the plain name)."""
    return f"{part}__rolling" if length == longest else f"{part}__rolling_{length}"


def window_name(part: str, length: int, longest: int) -> str:
    """The CTE holding a distinct count's value over each period's trailing window (a
    negative length: that many calendar months)."""
    if length < 0:
        return f"{part}_window_{-length}mo"
    return f"{part}_window" if length == longest else f"{part}_window_{length}"


def rolling_distinct(plan: MetricQueryPlan, measures: dict[str, Measure], sql: SqlBuilder,
                     ctes: list[tuple[str, exp.Expr]]) -> dict[tuple[str, int], str]:
    """A distinct count over a trailing window is not a sum of the periods' distinct counts
    (a user active on two days counts once in the week): for each period of the spine,
    count the distinct values of the events in its window, `[period + grain - window,
    period + grain)`, by joining the spine to the source's rows. Appends one CTE per such
    measure and window; returns the table alias `windowed` gives each, by (part, length)."""
    found: dict[tuple[str, int], str] = {}
    for metric in plan.metrics:
        window = metric.window
        if window is None or window.mode != "rolling":
            continue
        for part in parts(metric.formula):
            measure = measures.get(part)
            step, seconds = plan.grain.seconds, window.seconds or -(window.months or 0)
            if measure is None or measure.func != "count_distinct" or (
                    part, seconds) in found:
                continue
            source = plan.sources[measure.source]
            if not plan.dense or not seconds or source.time is None or (
                    step is None and window.months is None):
                raise InternalError(f"`{metric.name}` counts distinct values over a window "
                                    "that is not a whole number of periods", "MS410")
            time = local_time(plan.timezone, source, sql.col(source.time.name, "s"), sql)
            on: list[exp.Expr] = _window_bounds(sql, plan, time, window)
            if plan.end is not None:
                on.append(exp.LT(this=time.copy(), expression=sql.ts(plan.end)))
            value = sql.agg("count_distinct", sql.col(measure.column or "", "s"),
                            sql.filter(measure.filter, "s"), measure.approximate)
            dims = [sql.col(d, "s") for d in plan.dimensions]
            select = exp.select(aliased(sql.ref(PERIOD, "p"), sql.alias(PERIOD)),
                                *[aliased(d.copy(), sql.alias(d.name)) for d in dims],
                                aliased(value, sql.alias(f"{part}__rolling")))
            select = select.from_(aliased(sql.cte("spine_periods"), "p"), copy=False)
            select = select.join(joining(sql.source(source, "s"), "inner"), on=exp.and_(*on),
                                 copy=False)
            select = select.group_by(sql.ref(PERIOD, "p"), *[d.copy() for d in dims],
                                     copy=False)
            ctes.append((window_name(part, seconds, plan.lookback_seconds), select))
            found[(part, seconds)] = f"dw{len(found) + 1}"
    return found


def _window_bounds(sql: SqlBuilder, plan: MetricQueryPlan, time: exp.Expr,
                   window: WindowSpec) -> list[exp.Expr]:
    """Events of the trailing window of spine period `p`: `[end - window, end)`, where
    `end` is the period's end (calendar months: `emit.calendar_sql`)."""
    period = sql.ref(PERIOD, "p")
    if window.months is not None:
        return [exp.GTE(this=time.copy(), expression=calendar_sql.window_start(
                    sql, period, plan.grain, window.months)),
                exp.LT(this=time.copy(), expression=calendar_sql.period_end(
                    sql, period.copy(), plan.grain))]
    step, seconds = plan.grain.seconds, window.seconds
    assert step is not None and seconds is not None
    return [exp.GTE(this=time.copy(), expression=sql.ts_add(period, step - seconds)),
            exp.LT(this=time.copy(), expression=sql.ts_add(period.copy(), step))]
