"""SQL for an experiment: exposures → one scan per source → unit table → per-variant
sufficient statistics in the long format (docs/sufficient-statistics.md).

CTEs, in order:

    exposure_log      assignment rows in the window, ranked per unit
    exposures         each unit's first exposure (NULL units ignored; ties at one instant
                      broken by variant, then segment values); units seen in two variants
                      are dropped
    <src>_events      one pass over each source, joined to exposures (pre-period included
                      when CUPED needs it)
    <src>_ranked/_pos event ranks for exact, clustered percentiles (only with percentiles;
                      ties ranked by unit)
    <src>_units       one GROUP BY unit per source computing all its components
    <conv>_first/_units   conversions (their own small scans)
    units             every exposed unit with every component, missing → 0
    units_by_rank, caps, units_capped   winsorisation (only when asked)

Fixed names never end like a name built from a source or metric (`_events`, `_units`…).
    stats             per (segment, variant): n, Σx, Σx², Σxy, … for every base metric
    final SELECT      the long format: one row per segment × variant × metric
"""

from __future__ import annotations

from sqlglot import exp

from metricspec.emit.experiment_parts import EXPOSED, UNIT, VARIANT, partitions, seg
from metricspec.emit.experiment_quantile import quantile_ctes, quantile_units
from metricspec.emit.experiment_stats import LONG_COLUMNS, long_rows, stats_cte
from metricspec.emit.join_sql import local_filter, relation
from metricspec.emit.joining import joining
from metricspec.emit.sqlbuild import SqlBuilder, aliased, cast, with_ctes
from metricspec.plan.experiment import BaseMetric, ExperimentPlan
from metricspec.plan.lower import Conversion


def experiment_sql(plan: ExperimentPlan, sql: SqlBuilder) -> exp.Select:
    """Build the sqlglot tree of an experiment's sufficient-statistics query."""
    ctes: list[tuple[str, exp.Expr]] = list(_exposures(plan, sql))
    units_from: list[tuple[str, list[str]]] = []
    for source in plan.scan_sources():
        built, tables = _source_scan(plan, source, sql)
        ctes.extend(built)
        units_from.extend(tables)
    for base in plan.bases:
        if base.conversion is not None:
            ctes.extend(_conversion(plan, base.conversion, sql))
            units_from.append((f"{base.name}_units", [f"{base.name}__x", f"{base.name}__y"]))
    more, select = finish(plan, units_from, sql)
    with_ctes(select, [*ctes, *more])
    return select


def finish(
    plan: ExperimentPlan, units_from: list[tuple[str, list[str]]], sql: SqlBuilder
) -> tuple[list[tuple[str, exp.Expr]], exp.Select]:
    """From per-unit component tables on: `units` (winsorised when asked), `stats` and the
    long-format SELECT; shared with the incremental refresh (`experiment_incremental`)."""
    ctes: list[tuple[str, exp.Expr]] = [("units", _units(plan, units_from, sql))]
    table = "units"
    capped = [b for b in plan.bases if b.winsorize is not None]
    if capped:
        ctes.extend(_winsorize(plan, capped, units_from, sql))
        table = "units_capped"
    ctes.append(("stats", stats_cte(plan, table, sql)))
    return ctes, long_rows(plan, sql)


def exposure_ctes(plan: ExperimentPlan, sql: SqlBuilder) -> list[tuple[str, exp.Expr]]:
    """`exposure_log` and `exposures`, shared with the daily diagnostics query."""
    return _exposures(plan, sql)


def _exposures(plan: ExperimentPlan, sql: SqlBuilder) -> list[tuple[str, exp.Expr]]:
    if plan.history:
        return _history_exposures(plan, sql)
    source = plan.assignment
    assert source.time is not None
    unit, variant = sql.col(plan.unit, "a"), sql.col(plan.variant_column, "a")
    time = sql.col(source.time.name, "a")
    events = exp.select(
        aliased(unit.copy(), sql.alias(UNIT)),
        aliased(cast(variant.copy(), "VARCHAR"), sql.alias(VARIANT)),
        aliased(time.copy(), sql.alias(EXPOSED)),
        *[aliased(sql.col(plan.segment_column(s), "a"), sql.alias(seg(s))) for s in plan.segments],
        aliased(exp.Window(
            this=exp.RowNumber(),
            partition_by=[unit.copy()],
            # ties at the same instant are broken by variant, then segment values, so the
            # segment a unit is counted in does not depend on the engine's row order
            order=exp.Order(
                expressions=[
                    sql.asc(time.copy()),
                    sql.asc(variant.copy()),
                    *[sql.asc(sql.col(plan.segment_column(s), "a")) for s in plan.segments],
                ]
            ),
        ), sql.alias("__exposure_rank")),
        aliased(exp.Window(this=exp.Min(this=variant.copy()), partition_by=[unit.copy()]),
                sql.alias("__variant_min")),
        aliased(exp.Window(this=exp.Max(this=variant.copy()), partition_by=[unit.copy()]),
                sql.alias("__variant_max")),
    ).from_(relation(source, plan.segment_joins, sql, "a"), copy=False)
    conditions: list[exp.Expr] = [
        exp.GTE(this=time.copy(), expression=sql.ts(plan.start)),
        exp.LT(this=time.copy(), expression=sql.ts(plan.end)),
        exp.In(this=variant.copy(), expressions=[sql.text(v) for v in plan.variants]),
        exp.Not(this=exp.Is(this=unit.copy(), expression=exp.Null())),
    ]
    flt = sql.filter(plan.assignment_local, "a")
    if flt is not None:
        conditions.insert(0, flt)
    events = events.where(exp.and_(*conditions), copy=False)
    first = exp.EQ(this=sql.ref("__exposure_rank"), expression=exp.Literal.number(1))
    same = exp.EQ(this=sql.ref("__variant_min"), expression=sql.ref("__variant_max"))
    exposures = (
        exp.select(
            *[sql.ref(c) for c in (UNIT, VARIANT, EXPOSED, *[seg(s) for s in plan.segments])]
        )
        .from_(sql.cte("exposure_log"), copy=False)
        .where(exp.and_(first, same), copy=False)
    )
    return [("exposure_log", events), ("exposures", exposures)]


def _history_exposures(plan: ExperimentPlan, sql: SqlBuilder) -> list[tuple[str, exp.Expr]]:
    """For power planning: every distinct unit with an event of a source the metrics read
    (components, percentiles, both ends of conversions) in the window, each counted once.

    Each branch is a SELECT DISTINCT and the branches are joined by UNION (distinct), so a
    unit with many events, in one source or several, is one unit."""
    union: exp.Expr | None = None
    for name in plan.metric_sources():
        source = plan.sources[name]
        assert source.time is not None
        time = sql.col(source.time.name, "s")
        unit = sql.col(plan.unit, "s")
        part = (
            exp.select(aliased(unit.copy(), sql.alias(UNIT)))
            .distinct()
            .from_(sql.source(source, "s"), copy=False)
            .where(
                exp.and_(
                    exp.GTE(this=time.copy(), expression=sql.ts(plan.start)),
                    exp.LT(this=time, expression=sql.ts(plan.end)),
                    exp.Not(this=exp.Is(this=unit, expression=exp.Null())),
                ),
                copy=False,
            )
        )
        union = part if union is None else exp.union(union, part, distinct=True, copy=False)
    assert union is not None
    label = sql.text("baseline")
    events = exp.select(
        aliased(sql.ref(UNIT), sql.alias(UNIT)),
        aliased(label, sql.alias(VARIANT)),
        aliased(sql.ts(plan.start), sql.alias(EXPOSED)),
        aliased(exp.Literal.number(1), sql.alias("__exposure_rank")),
        aliased(label.copy(), sql.alias("__variant_min")),
        aliased(label.copy(), sql.alias("__variant_max")),
    ).from_(
        exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("active"))), copy=False
    )
    exposures = exp.select(sql.ref(UNIT), sql.ref(VARIANT), sql.ref(EXPOSED)).from_(
        sql.cte("exposure_log"), copy=False
    )
    return [("exposure_log", events), ("exposures", exposures)]


def _source_scan(
    plan: ExperimentPlan, source: str, sql: SqlBuilder
) -> tuple[list[tuple[str, exp.Expr]], list[tuple[str, list[str]]]]:
    src = plan.sources[source]
    assert src.time is not None
    joins = plan.joins.get(source)  # dimensions of other tables its filters read

    bases = [b for b in plan.bases if any(c is not None and c.source == source for c in (b.x, b.y))]
    quantiles = [b for b in plan.bases if b.quantile and b.quantile.source == source]
    cuped = any(b.cuped for b in bases)
    time = sql.col(src.time.name, "s")
    exposed = sql.ref(EXPOSED, "s")
    post = exp.GTE(this=time.copy(), expression=exposed.copy())
    pre = (
        exp.and_(
            exp.GTE(this=time.copy(), expression=sql.ts(plan.pre_start)),
            exp.LT(this=time.copy(), expression=sql.ts(plan.start)),
        )
        if cuped and plan.pre_start
        else None
    )

    events = exp.select(
        aliased(sql.ref("__unit", "e"), sql.alias(UNIT)),
        aliased(sql.ref(VARIANT, "e"), sql.alias(VARIANT)),
        aliased(sql.ref(EXPOSED, "e"), sql.alias(EXPOSED)),
        *[aliased(sql.ref(seg(s), "e"), sql.alias(seg(s))) for s in plan.segments],
        *[aliased(sql.col(c, "s"), sql.alias(c)) for c in plan.scan_columns(source)],
    )
    for base in quantiles:
        q = base.quantile
        assert q is not None and q.column is not None
        condition = exp.and_(
            *[
                c
                for c in (
                    exp.GTE(this=time.copy(), expression=sql.ref(EXPOSED, "e")),
                    sql.filter(local_filter(joins, q.filter), "s"),
                )
                if c is not None
            ]
        )
        events = events.select(
            aliased(sql.when(condition, sql.col(q.column, "s")), sql.alias(f"{base.name}__v")),
            copy=False,
        )
    events = events.from_(relation(src, joins, sql, "s"), copy=False).join(
        joining(aliased(exp.Table(this=exp.to_identifier("exposures")), "e"), "inner"),
        on=exp.EQ(this=sql.col(plan.unit, "s"), expression=sql.ref(UNIT, "e")),
        copy=False,
    )
    lower = plan.pre_start if cuped and plan.pre_start else plan.start
    where = [
        exp.GTE(this=time.copy(), expression=sql.ts(lower)),
        exp.LT(this=time.copy(), expression=sql.ts(plan.end)),
    ]
    if not cuped and not quantiles:
        where.append(exp.GTE(this=time.copy(), expression=sql.ref(EXPOSED, "e")))
    events = events.where(exp.and_(*where), copy=False)
    ctes: list[tuple[str, exp.Expr]] = [(f"{source}_events", events)]
    scan_table = f"{source}_events"

    post_condition = post if (cuped or quantiles) else None
    unit_select = exp.select(aliased(sql.ref(UNIT, "s"), sql.alias(UNIT)))
    columns: list[str] = []
    for base in bases:
        for comp in (base.x, base.y):
            if comp is None or comp.source != source:
                continue
            value = sql.col(comp.column, "s") if comp.column else None
            post_filter = _and(post_condition, sql.filter(local_filter(joins, comp.filter), "s"))
            unit_select = unit_select.select(
                aliased(sql.agg(comp.func, value, post_filter), sql.alias(comp.name)), copy=False
            )
            columns.append(comp.name)
            if base.cuped and pre is not None:
                pre_condition = _and(pre.copy(), sql.filter(local_filter(joins, comp.filter), "s"))
                unit_select = unit_select.select(
                    aliased(sql.agg(comp.func, value and value.copy(), pre_condition),
                            sql.alias(f"{comp.name}__pre")),
                    copy=False,
                )
                columns.append(f"{comp.name}__pre")
    unit_select = unit_select.from_(
        aliased(exp.Table(this=exp.to_identifier(scan_table)), "s"), copy=False
    )
    unit_select = unit_select.group_by(sql.ref(UNIT, "s"), copy=False)
    ctes.append((f"{source}_units", unit_select))
    joined: list[tuple[str, list[str]]] = [(f"{source}_units", columns)] if columns else []
    for base in quantiles:
        built, names = quantile_ctes(plan, source, base, sql)
        ctes.extend(built)
        ctes.append((f"{base.name}_qunits", quantile_units(plan, base, sql)))
        joined.append((f"{base.name}_qunits", names))
    return ctes, joined


def _and(*conditions: exp.Expr | None) -> exp.Expr | None:
    present = [c for c in conditions if c is not None]
    return exp.and_(*present) if present else None


def _conversion(
    plan: ExperimentPlan, conv: Conversion, sql: SqlBuilder
) -> list[tuple[str, exp.Expr]]:
    start, end = plan.sources[conv.start_source], plan.sources[conv.end_source]
    assert start.time is not None and end.time is not None
    time = sql.col(start.time.name, "s")
    first = exp.select(
        aliased(sql.ref(UNIT, "e"), sql.alias(UNIT)),
        aliased(exp.Min(this=time.copy()), sql.alias("__first_at")),
    )
    first = first.from_(relation(start, conv.start_joins, sql, "s"), copy=False).join(
        joining(aliased(exp.Table(this=exp.to_identifier("exposures")), "e"), "inner"),
        on=exp.EQ(this=sql.col(plan.unit, "s"), expression=sql.ref(UNIT, "e")),
        copy=False,
    )
    conditions = [
        exp.GTE(this=time.copy(), expression=sql.ref(EXPOSED, "e")),
        exp.LT(this=time.copy(), expression=sql.ts(plan.end)),
    ]
    flt = sql.filter(local_filter(conv.start_joins, conv.start_filter), "s")
    first = first.where(exp.and_(*conditions, *([flt] if flt is not None else [])), copy=False)
    first = first.group_by(sql.ref(UNIT, "e"), copy=False)
    end_time = sql.col(end.time.name, "x")
    on: list[exp.Expr] = [
        exp.EQ(this=sql.col(plan.unit, "x"), expression=sql.ref(UNIT, "f")),
        exp.GTE(this=end_time.copy(), expression=sql.ref("__first_at", "f")),
        exp.LT(
            this=end_time.copy(),
            expression=sql.ts_add(sql.ref("__first_at", "f"), conv.within_seconds),
        ),
        exp.LT(this=end_time.copy(), expression=sql.ts(plan.end)),
    ]
    end_filter = sql.filter(local_filter(conv.end_joins, conv.end_filter), "x")
    if end_filter is not None:
        on.append(end_filter)
    hit = exp.Max(
        this=sql.when(
            exp.Not(this=exp.Is(this=sql.col(plan.unit, "x"), expression=exp.Null())),
            exp.Literal.number(1),
            exp.Literal.number(0),
        )
    )
    units = exp.select(
        aliased(sql.ref(UNIT, "f"), sql.alias(UNIT)),
        aliased(hit, sql.alias(f"{conv.name}__x")),
        aliased(exp.Literal.number(1), sql.alias(f"{conv.name}__y")),
    )
    units = units.from_(
        aliased(exp.Table(this=exp.to_identifier(f"{conv.name}_first")), "f"), copy=False
    )
    units = units.join(joining(relation(end, conv.end_joins, sql, "x"), "left"), on=exp.and_(*on),
                       copy=False)
    units = units.group_by(sql.ref(UNIT, "f"), copy=False)
    return [(f"{conv.name}_first", first), (f"{conv.name}_units", units)]


def _units(
    plan: ExperimentPlan, units_from: list[tuple[str, list[str]]], sql: SqlBuilder
) -> exp.Select:
    select = exp.select(
        *[
            aliased(sql.ref(c, "e"), sql.alias(c))
            for c in (UNIT, VARIANT, *[seg(s) for s in plan.segments])
        ]
    )
    select = select.from_(aliased(exp.Table(this=exp.to_identifier("exposures")), "e"), copy=False)
    for table, columns in units_from:
        select = select.select(
            *[
                aliased(exp.Coalesce(this=sql.ref(c, table), expressions=[exp.Literal.number(0)]),
                        sql.alias(c))
                for c in columns
            ],
            copy=False,
        )
        select = select.join(
            joining(sql.cte(table), "left"),
            on=exp.EQ(this=sql.ref(UNIT, table), expression=sql.ref(UNIT, "e")),
            copy=False,
        )
    return select


def _winsorize(
    plan: ExperimentPlan,
    capped: list[BaseMetric],
    units_from: list[tuple[str, list[str]]],
    sql: SqlBuilder,
) -> list[tuple[str, exp.Expr]]:
    """Cap each unit's value at the pooled percentile (nearest rank) of all units."""
    targets: list[tuple[str, float]] = []
    for base in capped:
        assert base.x is not None and base.winsorize is not None
        targets.append((base.x.name, base.winsorize))
        if base.cuped:
            targets.append((f"{base.x.name}__pre", base.winsorize))
    ranked = exp.select(exp.Star()).from_(sql.cte("units"), copy=False)
    for column, _ in targets:
        ranked = ranked.select(
            aliased(exp.Window(
                this=exp.RowNumber(),
                order=exp.Order(expressions=[sql.asc(sql.ref(column))]),
            ), sql.alias(f"{column}__rank")),
            copy=False,
        )
    ranked = ranked.select(
        aliased(exp.Window(this=exp.Count(this=exp.Star())), sql.alias("__units_n")), copy=False
    )
    caps = exp.select()
    for column, fraction in targets:
        at = exp.GTE(
            this=sql.ref(f"{column}__rank"),
            expression=exp.Ceil(
                this=exp.Mul(
                    this=exp.Literal.number(repr(fraction)), expression=sql.ref("__units_n")
                )
            ),
        )
        caps = caps.select(
            aliased(exp.Min(this=sql.when(at, sql.ref(column))),
                    sql.alias(f"{column}__cap")), copy=False
        )
    caps = caps.from_(sql.cte("units_by_rank"), copy=False)
    capped_names = {c for c, _ in targets}
    all_columns = [
        UNIT,
        VARIANT,
        *[seg(s) for s in plan.segments],
        *[c for _, cols in units_from for c in cols],
    ]
    final = exp.select(
        *[
            aliased(exp.Least(this=sql.ref(c, "u"), expressions=[sql.ref(f"{c}__cap", "caps")])
                if c in capped_names
                else sql.ref(c, "u"), sql.alias(c))
            for c in all_columns
        ]
    )
    final = final.from_(aliased(exp.Table(this=exp.to_identifier("units")), "u"), copy=False).join(
        joining(sql.cte("caps"), "cross"), copy=False
    )
    return [("units_by_rank", ranked), ("caps", caps), ("units_capped", final)]


__all__ = ["LONG_COLUMNS", "experiment_sql", "partitions", "seg"]
