"""SQL for metric queries: metrics by period and dimensions, one scan per source.

Shape of the query (CTE names are fixed, so diffs stay readable):

    <source>_agg   one GROUP BY (period, dimensions) per source with all its measures
    <conv>_starts, <conv>_hits, <conv>_agg   one block per conversion metric
    spine          every (period, dimensions) any block produced (only with several blocks)
    series         the blocks joined on (period, dimensions)
    windowed       rolling sums (a self-join on the series, so gaps do not shift the frame)
                   and cumulative sums (a window function)
    final SELECT   each metric's formula
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlglot import exp

from metricspec import ir
from metricspec.emit import calendar_sql
from metricspec.emit.join_sql import local_filter, localized, relation
from metricspec.emit.joining import joining
from metricspec.emit.offset_sql import series_sql
from metricspec.emit.semi_sql import block_name, semi_scan, split_semi
from metricspec.emit.spine import dense_series, rolled_name, rolling_distinct, window_name
from metricspec.emit.sqlbuild import SqlBuilder, aliased, with_ctes
from metricspec.emit.zones import bound, local_time, utc_time, zoned
from metricspec.plan.formula import Formula, fold, parts
from metricspec.plan.lower import Conversion, InternalError, Measure
from metricspec.plan.metric_query import MetricQueryPlan, Scan

PERIOD = "period"


@dataclass
class _Block:
    name: str
    columns: list[str]  # measure columns it provides


def metric_query_sql(plan: MetricQueryPlan, sql: SqlBuilder) -> exp.Select:
    """Build the sqlglot tree of a metric query."""
    if plan.series is not None:  # offsets, windows inside expressions (emit.offset_sql)
        return series_sql(plan, sql, metric_query_sql)
    ctes: list[tuple[str, exp.Expr]] = []
    blocks: list[_Block] = []
    lookback = plan.lookback_seconds
    for whole in plan.scans:
        scan, semis = split_semi(whole)  # semi-additive measures: emit.semi_sql
        if scan.measures:
            name = f"{scan.source.name}_agg"
            ctes.append((name, _scan(plan, scan, sql, lookback)))
            blocks.append(_Block(name, [m.name for m in scan.measures]))
        for semi, own in semis:
            name = block_name(own.source.name, semi)
            if own.source.time is None:
                raise InternalError(f"source `{own.source.name}` has no time column", "MS605")
            time = sql.col(own.source.time.name, "s")
            ctes.append((name, semi_scan(plan, semi, own, sql, _time_range(
                plan, sql, time, lookback, open_start=plan.cumulative, source=own.source),
                measure_sql)))
            blocks.append(_Block(name, [m.name for m in own.measures]))
    for conv in plan.conversions:
        for cte_name, cte in _conversion(plan, conv, sql, lookback):
            ctes.append((cte_name, cte))
        blocks.append(_Block(f"{conv.name}_agg", [conv.starts, conv.converted]))
    keys = [PERIOD, *plan.dimensions]
    if not blocks:
        return _constants(plan, sql)
    measures = {m.name: m for scan in plan.scans for m in scan.measures}
    if plan.dense:  # one row per period of the range (emit.spine)
        source = dense_series(plan, [(b.name, b.columns) for b in blocks], measures, sql, ctes)
    elif len(blocks) == 1:  # one source: its block is the series
        source = blocks[0].name
    else:
        ctes.append(("series", _series(blocks, keys, sql, ctes)))
        source = "series"
    windowed = [m for m in plan.metrics if m.window]
    if windowed:
        distinct = rolling_distinct(plan, measures, sql, ctes)
        ctes.append(("windowed", _windowed(plan, measures, keys, sql, source, distinct)))
        source = "windowed"
    if plan.grain.unit == "none":  # one total over the range: no period column
        keys = list(plan.dimensions)
    select = exp.select(*[aliased(sql.ref(k), sql.alias(k)) for k in keys])
    for metric in plan.metrics:
        suffix = f"__{metric.window.mode}" if metric.window else ""
        if metric.window and metric.window.seconds:  # several rolling lengths: by length
            suffix = rolled_name("", metric.window.seconds, plan.lookback_seconds)
        if metric.window and (metric.window.months or metric.window.to_date):
            suffix = calendar_sql.suffix(metric.window)
        value = formula_sql(metric.formula, sql, suffix)
        select = select.select(aliased(value, sql.alias(metric.name)), copy=False)
    select = select.from_(sql.cte(source), copy=False)
    period_filter = _period_range(plan, sql)
    if period_filter is not None and (lookback or plan.cumulative or plan.calendar_windows):
        select = select.where(period_filter, copy=False)
    if keys:
        select = select.order_by(*[sql.ref(k) for k in keys], copy=False)
    with_ctes(select, ctes)
    return select


def _constants(plan: MetricQueryPlan, sql: SqlBuilder) -> exp.Select:
    """Metrics that aggregate nothing (`metric target = 5%`): one row, with no period."""
    if plan.dimensions or any(m.window for m in plan.metrics):
        raise InternalError("constant metrics have no dimensions and no windows "
                            "(`check` reports a window over a constant as MS410)", "MS410")
    select = exp.select(aliased(sql.null_timestamp(), sql.alias(PERIOD)))
    for metric in plan.metrics:
        select = select.select(aliased(formula_sql(metric.formula, sql, ""),
                                       sql.alias(metric.name)),
                               copy=False)
    return select


def _time_range(
    plan: MetricQueryPlan,
    sql: SqlBuilder,
    time: exp.Expr,
    lookback: int,
    open_start: bool = False,
    source: ir.Source | None = None,
) -> exp.Expr | None:
    if source is not None and zoned(plan.timezone, source):  # bounds in the column's terms
        # to-date and month windows read from the periods they reach, as unzoned below
        first = plan.read_from if plan.calendar_windows else (
            None if plan.start is None else plan.start - dt.timedelta(seconds=lookback))
        lower = None if first is None or open_start else bound(plan.timezone, source, first,
                                                                sql)
        upper = None if plan.end is None else bound(plan.timezone, source, plan.end, sql)
        found = [exp.GTE(this=time.copy(), expression=lower) if lower else None,
                 exp.LT(this=time.copy(), expression=upper) if upper else None]
        return exp.and_(*[c for c in found if c is not None]) if any(found) else None
    conditions: list[exp.Expr] = []
    if plan.start is not None and not open_start and plan.calendar_windows:
        read_from = plan.read_from  # to-date and month windows: the periods they reach
        assert read_from is not None
        conditions.append(exp.GTE(this=time.copy(), expression=sql.ts(read_from)))
    elif plan.start is not None and not open_start:
        conditions.append(
            exp.GTE(
                this=time.copy(),
                expression=sql.ts_add(sql.ts(plan.start), -lookback)
                if lookback
                else sql.ts(plan.start),
            )
        )
    if plan.end is not None:
        conditions.append(exp.LT(this=time.copy(), expression=sql.ts(plan.end)))
    return exp.and_(*conditions) if conditions else None


def _period_range(plan: MetricQueryPlan, sql: SqlBuilder) -> exp.Expr | None:
    if plan.start is None:
        return None
    return exp.GTE(this=sql.ref(PERIOD), expression=sql.ts(plan.start))


def _scan(plan: MetricQueryPlan, scan: Scan, sql: SqlBuilder, lookback: int) -> exp.Select:
    source = scan.source
    if source.time is None:
        raise InternalError(f"source `{source.name}` has no time column", "MS605")
    period = sql.bucket(local_time(plan.timezone, source, sql.col(source.time.name, "s"), sql),
                        plan.grain)
    keys: list[exp.Expr] = [period, *[sql.col(d, "s") for d in plan.dimensions]]
    select = exp.select(aliased(period.copy(), sql.alias(PERIOD)))
    for dim in plan.dimensions:
        select = select.select(aliased(sql.col(dim, "s"), sql.alias(dim)), copy=False)
    for measure in localized(scan.joins, scan.measures):
        select = select.select(aliased(measure_sql(measure, sql), sql.alias(measure.name)),
                               copy=False)
    select = select.from_(relation(source, scan.joins, sql, "s"), copy=False)
    where = _time_range(
        plan, sql, sql.col(source.time.name, "s"), lookback, open_start=plan.cumulative,
        source=source)
    if where is not None:
        select = select.where(where, copy=False)
    if plan.where is not None:  # the query's filter on dimensions (`query --where`)
        select = select.where(sql.filter(plan.where, "s"), copy=False)
    return _group(select, keys, sql)


def _group(select: exp.Select, keys: list[exp.Expr], sql: SqlBuilder) -> exp.Select:
    return sql.group(select, keys)


def measure_sql(measure: Measure, sql: SqlBuilder) -> exp.Expr:
    """One measure's aggregate over the scan `s` (also the diff's range query's)."""
    condition = sql.filter(measure.filter, "s")
    value = sql.col(measure.column, "s") if measure.column else None
    if measure.func == "quantile":
        assert value is not None and measure.quantile is not None
        return sql.percentile(value, measure.quantile, condition)
    return sql.agg(measure.func, value, condition, measure.approximate)


def _conversion(
    plan: MetricQueryPlan, conv: Conversion, sql: SqlBuilder, lookback: int
) -> list[tuple[str, exp.Expr]]:
    start, end = plan.sources[conv.start_source], plan.sources[conv.end_source]
    if start.time is None or end.time is None:
        raise InternalError(f"conversion `{conv.name}` reads a source without a time column",
                            "MS605")
    time = sql.col(start.time.name, "s")
    period = sql.bucket(local_time(plan.timezone, start, time.copy(), sql), plan.grain)
    dims = [sql.col(d, "s") for d in plan.dimensions]
    starts = exp.select(
        aliased(sql.col(conv.entity, "s"), sql.alias("entity")),
        aliased(period.copy(), sql.alias(PERIOD)),
        *[aliased(d.copy(), sql.alias(d.name)) for d in dims],
        aliased(exp.Min(this=utc_time(start, time.copy(), sql)), sql.alias("first_at")),
    )
    starts = starts.from_(relation(start, conv.start_joins, sql, "s"), copy=False)
    where = (
        exp.and_(
            *[
                c
                for c in (
                    sql.filter(local_filter(conv.start_joins, conv.start_filter), "s"),
                    _time_range(plan, sql, time, lookback, plan.cumulative, start),
                    sql.filter(plan.where, "s"),
                )
                if c is not None
            ]
        )
        if (conv.start_filter or plan.start or plan.end or plan.where)
        else None
    )
    if where is not None:
        starts = starts.where(where, copy=False)
    starts = _group(starts, [sql.col(conv.entity, "s"), period, *dims], sql)
    first = sql.ref("first_at", "st")
    end_time = utc_time(end, sql.col(end.time.name, "e"), sql)
    on: list[exp.Expr] = [
        exp.EQ(this=sql.col(conv.entity, "e"), expression=sql.ref("entity", "st")),
        exp.GTE(this=end_time.copy(), expression=first.copy()),
        exp.LT(this=end_time.copy(), expression=sql.ts_add(first.copy(), conv.within_seconds)),
    ]
    end_filter = sql.filter(local_filter(conv.end_joins, conv.end_filter), "e")
    if end_filter is not None:
        on.append(end_filter)
    keys = [
        sql.ref("entity", "st"),
        sql.ref(PERIOD, "st"),
        *[sql.ref(d, "st") for d in plan.dimensions],
    ]
    hit = exp.Max(
        this=sql.when(
            exp.Not(this=exp.Is(this=sql.col(conv.entity, "e"), expression=exp.Null())),
            exp.Literal.number(1),
            exp.Literal.number(0),
        )
    )
    hits = exp.select(
        *[aliased(k.copy(), sql.alias(k.name)) for k in keys], aliased(hit, sql.alias("converted"))
    )
    hits = hits.from_(
        aliased(exp.Table(this=exp.to_identifier(f"{conv.name}_starts")), "st"), copy=False
    )
    hits = hits.join(joining(relation(end, conv.end_joins, sql, "e"), "left"), on=exp.and_(*on),
                     copy=False)
    hits = hits.group_by(*[k.copy() for k in keys], copy=False)
    agg_keys = [sql.ref(PERIOD), *[sql.ref(d) for d in plan.dimensions]]
    agg = exp.select(
        *[aliased(k.copy(), sql.alias(k.name)) for k in agg_keys],
        aliased(exp.Count(this=exp.Star()), sql.alias(conv.starts)),
        aliased(exp.Sum(this=sql.ref("converted")), sql.alias(conv.converted)),
    )
    agg = agg.from_(sql.cte(f"{conv.name}_hits"), copy=False).group_by(
        *[k.copy() for k in agg_keys], copy=False
    )
    return [(f"{conv.name}_starts", starts), (f"{conv.name}_hits", hits), (f"{conv.name}_agg", agg)]


def _series(
    blocks: list[_Block], keys: list[str], sql: SqlBuilder, ctes: list[tuple[str, exp.Expr]]
) -> exp.Select:
    union: exp.Expr | None = None
    for block in blocks:
        part = exp.select(*[sql.ref(k) for k in keys]).from_(sql.cte(block.name), copy=False)
        union = part if union is None else exp.union(union, part, distinct=True, copy=False)
    assert union is not None, "metric_query_sql builds a series from two blocks or more"
    ctes.append(("spine", union))
    select = exp.select(*[aliased(sql.ref(k, "spine"), sql.alias(k)) for k in keys]).from_(
        "spine", copy=False
    )
    for block in blocks:
        on = [
            exp.NullSafeEQ(this=sql.ref(k, block.name), expression=sql.ref(k, "spine"))
            for k in keys
        ]
        select = select.join(joining(sql.cte(block.name), "left"), on=exp.and_(*on), copy=False)
        select = select.select(
            *[aliased(sql.ref(c, block.name), sql.alias(c)) for c in block.columns], copy=False
        )
    return select


def _windowed(
    plan: MetricQueryPlan,
    measures: dict[str, Measure],
    keys: list[str],
    sql: SqlBuilder,
    series: str,
    distinct: dict[tuple[str, int], str] | None = None,
) -> exp.Select:
    """Rolling sums by a self-join on the series; cumulative sums by a window function;
    distinct counts over a window from their own CTE (`emit.spine.rolling_distinct`)."""
    dims = list(plan.dimensions)
    distinct = distinct or {}
    select = exp.select(*[aliased(sql.ref(k, "cur"), sql.alias(k)) for k in keys])
    all_parts = sorted({p for m in plan.metrics for p in parts(m.formula)})
    select = select.select(*[aliased(sql.ref(p, "cur"), sql.alias(p)) for p in all_parts],
                           copy=False)
    rolling = [m for m in plan.metrics if m.window and m.window.mode == "rolling"]
    cumulative = [m for m in plan.metrics if m.window and m.window.mode == "cumulative"]
    chosen: set[str] = set()
    for metric in cumulative:
        assert metric.window is not None
        by: list[exp.Expr] = [sql.ref(d, "cur") for d in dims]
        name = "{}__cumulative"
        if metric.window.to_date:  # restarts at each to-date period
            by.append(calendar_sql.to_date_key(sql, sql.ref(PERIOD, "cur"), plan.grain,
                                               metric.window))
            name = "{}" + calendar_sql.suffix(metric.window)
        for part in parts(metric.formula):
            if name.format(part) in chosen:
                continue
            chosen.add(name.format(part))
            window = exp.Window(
                this=_rollup(measures.get(part), sql.ref(part, "cur")),
                partition_by=by or None,
                order=exp.Order(expressions=[sql.asc(sql.ref(PERIOD, "cur"))]),
                spec=exp.WindowSpec(
                    kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"
                ),
            )
            select = select.select(aliased(window, sql.alias(name.format(part))), copy=False)
    select = select.from_(aliased(sql.cte(series), "cur"), copy=False)
    if not rolling:
        return select
    seconds = max(m.window.seconds or 0 for m in rolling if m.window)  # names by length
    bound = max(calendar_sql.reach(m.window) for m in rolling)  # the join's reach
    for metric in rolling:
        assert metric.window and (metric.window.seconds or metric.window.months)
        length = metric.window.seconds or 0
        for part in parts(metric.formula):
            name = (rolled_name(part, length, seconds) if length
                    else part + calendar_sql.suffix(metric.window))
            if name in chosen:
                continue
            chosen.add(name)
            value: exp.Expr = sql.ref(part, "prev")
            if length and length < bound:  # a shorter window than the join's: its periods
                value = sql.when(exp.GT(this=sql.ref(PERIOD, "prev"), expression=sql.ts_add(
                    sql.ref(PERIOD, "cur"), -length)), value)
            elif metric.window.months:  # calendar months: from the window's first instant
                value = sql.when(exp.GTE(this=sql.ref(PERIOD, "prev"),
                                         expression=calendar_sql.window_start(
                                             sql, sql.ref(PERIOD, "cur"), plan.grain,
                                             metric.window.months)), value)
            length = length or -(metric.window.months or 0)  # distinct counts' key
            rolled = _rollup(measures.get(part), value)
            if (part, length) in distinct:  # one row per key in its CTE: no fan-out
                rolled = exp.Coalesce(
                    this=exp.Max(this=sql.ref(f"{part}__rolling", distinct[(part, length)])),
                    expressions=[exp.Literal.number(0)])
            select = select.select(aliased(rolled, sql.alias(name)), copy=False)
    on: list[exp.Expr] = [
        exp.NullSafeEQ(this=sql.ref(d, "prev"), expression=sql.ref(d, "cur")) for d in dims
    ]
    on.append(
        exp.GT(
            this=sql.ref(PERIOD, "prev"), expression=sql.ts_add(sql.ref(PERIOD, "cur"), -bound)
        )
    )
    on.append(exp.LTE(this=sql.ref(PERIOD, "prev"), expression=sql.ref(PERIOD, "cur")))
    select = select.join(
        joining(aliased(sql.cte(series), "prev"), "inner"),
        on=exp.and_(*on),
        copy=False,
    )
    for (part, length), alias in sorted(distinct.items(), key=lambda item: item[1]):
        match = [exp.NullSafeEQ(this=sql.ref(k, alias), expression=sql.ref(k, "cur"))
                 for k in keys]
        cte = sql.cte(window_name(part, length, seconds))
        select = select.join(joining(aliased(cte, alias), "left"), on=exp.and_(*match),
                             copy=False)
    group = [sql.ref(k, "cur") for k in keys] + [sql.ref(p, "cur") for p in all_parts]
    return select.group_by(*group, copy=False)


def _rollup(measure: Measure | None, value: exp.Expr) -> exp.Expr:
    """How a measure's values over shorter periods combine into a longer one."""
    if measure is not None and measure.func == "min":
        return exp.Min(this=value)
    if measure is not None and measure.func == "max":
        return exp.Max(this=value)
    return exp.Sum(this=value)


def formula_sql(formula: Formula, sql: SqlBuilder, suffix: str) -> exp.Expr:
    """A metric's formula over its measures' columns (named with `suffix`)."""
    def binary(op: str, a: exp.Expr, b: exp.Expr) -> exp.Expr:
        if op == "/":
            return sql.div(a, b)
        node = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[op]
        return exp.Paren(this=node(this=a, expression=b))

    return fold(
        formula, sql.num, lambda name: sql.ref(name + suffix), binary, lambda a: exp.Neg(this=a)
    )
