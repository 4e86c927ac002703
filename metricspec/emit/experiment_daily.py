"""The experiment's daily diagnostics query: what the report shows before the metrics, and
the primary metrics over time (docs/sufficient-statistics.md, "Daily diagnostics").

One statement; its rows are (kind, day, segment, segment_value, variant, metric, n, sum_x,
sum_x2, sum_y, sum_y2, sum_xy), `day` an index from the window's first day (0):

    exposures     units first exposed on `day`, per variant (the sample-ratio check by day)
    segment       units per segment value and variant (the check by segment; no day)
    unknown       units logged on `day` with a variant value the experiment does not declare
                  (`variant` holds that value as text; NULL stays NULL)
    unknown_total the same, each unit once over the window
    before        exposed units with an assignment row before the window, per variant
    novelty       a primary metric's per-unit sums on the `day`-th calendar day since the
                  unit's first exposure (day 0: from exposure to midnight)
    cohort, trend the novelty trend test's balanced cohort (emit/experiment_trend.py)
    cumulative    a primary metric's per-unit sums from exposure to the end of `day`, over
                  the units exposed by then (a running sum over each unit's days)

CTEs: exposure_log, exposures (as the experiment query), days (one literal row per day),
exposed (each unit's first day), <source>_daily (one GROUP BY unit, day per source), grid
(exposed units × their days, components and their running sums).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlglot import exp

from metricspec.emit.experiment_parts import EXPOSED, UNIT, VARIANT, seg
from metricspec.emit.experiment_sql import exposure_ctes
from metricspec.emit.experiment_trend import trend_ctes, trend_days, trend_rows
from metricspec.emit.join_sql import localized, relation
from metricspec.emit.joining import joining
from metricspec.emit.sqlbuild import SqlBuilder, aliased, cast, with_ctes
from metricspec.plan.experiment import BaseMetric, ExperimentPlan
from metricspec.plan.lower import Measure
from metricspec.plan.zones import to_utc

DAILY_COLUMNS: tuple[str, ...] = (
    "kind", "day", "segment", "segment_value", "variant", "metric", "n",
    "sum_x", "sum_x2", "sum_y", "sum_y2", "sum_xy",
)
_TEXT = ("kind", "segment", "segment_value", "variant", "metric")
DAY, FIRST_DAY = "__day", "__first_day"


def daily_bases(plan: ExperimentPlan) -> tuple[BaseMetric, ...]:
    """The primary metrics followed over time: means, proportions and ratios of one
    source's counts and sums (a conversion, a percentile, a derived metric or a distinct
    count of anything but the unit has no per-day running sum)."""
    primary = {m.bases[0] for m in plan.metrics if m.role == "primary" and m.kind != "derived"}
    return tuple(b for b in plan.bases if b.name in primary and _additive(plan, b))


def _additive(plan: ExperimentPlan, base: BaseMetric) -> bool:
    if base.kind not in ("mean", "proportion", "ratio") or base.x is None:
        return False
    return all(c.func in ("count", "sum") or (c.func == "count_distinct"
                                               and c.column == plan.unit)
               for c in (base.x, base.y) if c is not None)


def window_days(plan: ExperimentPlan) -> int:
    return max(1, -(-int((plan.local_end - plan.local_start).total_seconds()) // 86400))


def daily_sql(plan: ExperimentPlan, sql: SqlBuilder) -> exp.Select:
    """The sqlglot tree of the daily diagnostics query."""
    ctes: list[tuple[str, exp.Expr]] = list(exposure_ctes(plan, sql))
    ctes.append(("days", _days(plan, sql)))
    ctes.append(("exposed", _exposed(plan, sql)))
    bases = daily_bases(plan)
    components = [c for b in bases for c in (b.x, b.y) if c is not None]
    sources = list(dict.fromkeys(c.source for c in components))
    for source in sources:
        ctes.append((f"{source}_daily",
                     _source_daily(plan, source, [c for c in components if c.source == source],
                                   sql)))
    branches: list[exp.Select] = [_exposure_counts(sql), *_segment_counts(plan, sql),
                                  *_unknown(plan, sql), _before(plan, sql)]
    if components:
        ctes.append(("grid", _grid(plan, components, sources, sql)))
        for base in bases:
            branches.append(_metric_rows(plan, base, "novelty", sql))
            branches.append(_metric_rows(plan, base, "cumulative", sql))
        days = window_days(plan)
        horizon = trend_days(days)
        if horizon >= 3:
            ctes.extend(trend_ctes(bases, days, horizon, sql))
            for base in bases:
                cohort, trend = trend_rows(base, sql)
                branches.append(_select(cohort, sql).from_(sql.cte("trend_arm"), copy=False))
                branches.append(_select(trend, sql).from_(sql.cte("trend_units"), copy=False)
                                .group_by(sql.ref(VARIANT), copy=False))
    typed = [_typed_branch(b, first=i == 0, sql=sql) for i, b in enumerate(branches)]
    union: exp.Expr = typed[0]
    for branch in typed[1:]:
        union = exp.union(union, branch, distinct=False, copy=False)
    order = [exp.Ordered(this=sql.ref(c), nulls_first=True)
             for c in ("kind", "metric", "day", "segment", "segment_value", "variant")]
    select = (exp.select(*[sql.ref(c) for c in DAILY_COLUMNS])
              .from_(exp.Subquery(this=union,
                                  alias=exp.TableAlias(this=exp.to_identifier("daily_rows"))),
                     copy=False)
              .order_by(*order, copy=False))
    with_ctes(select, ctes)
    return select


def _days(plan: ExperimentPlan, sql: SqlBuilder) -> exp.Expr:
    union: exp.Expr | None = None
    for k in range(window_days(plan)):
        start = plan.start + dt.timedelta(days=k)
        end = min(start + dt.timedelta(days=1), plan.end)
        if plan.timezone:  # the project zone's days: 23, 24 or 25 hours
            day = plan.local_start + dt.timedelta(days=k)
            start = to_utc(day, plan.timezone)
            end = min(to_utc(day + dt.timedelta(days=1), plan.timezone), plan.end)
        row = exp.select(aliased(exp.Literal.number(k), sql.alias(DAY)),
                         aliased(sql.ts(start), sql.alias("__day_start")),
                         aliased(sql.ts(end), sql.alias("__day_end")))
        union = row if union is None else exp.union(union, row, distinct=False, copy=False)
    assert union is not None
    return union


def _in_day(time: exp.Expr, days: str) -> exp.Expr:
    return exp.and_(
        exp.GTE(this=time.copy(), expression=exp.column("__day_start", days)),
        exp.LT(this=time.copy(), expression=exp.column("__day_end", days)))


def _exposed(plan: ExperimentPlan, sql: SqlBuilder) -> exp.Expr:
    keep = (UNIT, VARIANT, *[seg(s) for s in plan.segments])
    select = exp.select(*[aliased(sql.ref(c, "e"), sql.alias(c)) for c in keep],
                        aliased(sql.ref(DAY, "d"), sql.alias(FIRST_DAY)))
    return select.from_(aliased(exp.Table(this=exp.to_identifier("exposures")), "e"),
                        copy=False).join(
        joining(aliased(exp.Table(this=exp.to_identifier("days")), "d"), "inner"),
        on=_in_day(sql.ref(EXPOSED, "e"), "d"), copy=False)


def _value(c: Measure, sql: SqlBuilder, table: str) -> exp.Expr:
    """A component's daily aggregate: distinct counts of the unit are a 0/1 indicator."""
    condition = sql.filter(c.filter, table)
    if c.func == "count_distinct":
        return sql.agg("max", exp.Literal.number(1), condition)
    value = sql.col(c.column, table) if c.column else None
    return sql.agg(c.func, value, condition)


def _source_daily(plan: ExperimentPlan, source: str, components: list[Measure],
                  sql: SqlBuilder) -> exp.Expr:
    src = plan.sources[source]
    assert src.time is not None
    time = sql.col(src.time.name, "s")
    joins = plan.joins.get(source)  # dimensions the components' filters read
    select = exp.select(aliased(sql.ref(UNIT, "e"), sql.alias(UNIT)),
                        aliased(sql.ref(DAY, "d"), sql.alias(DAY)),
                        *[aliased(_value(c, sql, "s"), sql.alias(c.name))
                          for c in localized(joins, tuple(components))])
    select = select.from_(relation(src, joins, sql, "s"), copy=False).join(
        joining(aliased(exp.Table(this=exp.to_identifier("exposures")), "e"), "inner"),
        on=exp.EQ(this=sql.col(plan.unit, "s"), expression=sql.ref(UNIT, "e")),
        copy=False).join(
        joining(aliased(exp.Table(this=exp.to_identifier("days")), "d"), "inner"),
        on=_in_day(time, "d"), copy=False)
    select = select.where(exp.and_(
        exp.GTE(this=time.copy(), expression=sql.ref(EXPOSED, "e")),
        exp.LT(this=time.copy(), expression=sql.ts(plan.end))), copy=False)
    return select.group_by(sql.ref(UNIT, "e"), sql.ref(DAY, "d"), copy=False)


def _grid(plan: ExperimentPlan, components: list[Measure], sources: list[str],
          sql: SqlBuilder) -> exp.Expr:
    select = exp.select(aliased(sql.ref(UNIT, "x"), sql.alias(UNIT)),
                        aliased(sql.ref(VARIANT, "x"), sql.alias(VARIANT)),
                        aliased(sql.ref(FIRST_DAY, "x"), sql.alias(FIRST_DAY)),
                        aliased(sql.ref(DAY, "d"), sql.alias(DAY)))
    for c in components:
        daily = exp.Coalesce(this=sql.ref(c.name, f"{c.source}_daily"),
                             expressions=[exp.Literal.number(0)])
        running: type[exp.Expr] = exp.Max if c.func == "count_distinct" else exp.Sum
        select = select.select(
            aliased(daily, sql.alias(c.name)),
            aliased(exp.Window(this=running(this=daily.copy()), partition_by=[sql.ref(UNIT, "x")],
                       order=exp.Order(expressions=[sql.asc(sql.ref(DAY, "d"))]),
                       spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED",
                                           start_side="PRECEDING", end="CURRENT ROW"),
                       ), sql.alias(f"{c.name}__cum")), copy=False)
    select = select.from_(aliased(exp.Table(this=exp.to_identifier("exposed")), "x"),
                          copy=False).join(
        joining(aliased(exp.Table(this=exp.to_identifier("days")), "d"), "inner"),
        on=exp.GTE(this=sql.ref(DAY, "d"), expression=sql.ref(FIRST_DAY, "x")),
        copy=False)
    for source in sources:
        table = f"{source}_daily"
        select = select.join(joining(sql.cte(table), "left"), on=exp.and_(
            exp.EQ(this=sql.ref(UNIT, table), expression=sql.ref(UNIT, "x")),
            exp.EQ(this=sql.ref(DAY, table), expression=sql.ref(DAY, "d"))),
            copy=False)
    return select


def _exposure_counts(sql: SqlBuilder) -> exp.Select:
    row = {"kind": sql.text("exposures"), "day": sql.ref(FIRST_DAY),
           "segment": sql.text("all"), "variant": sql.ref(VARIANT),
           "n": exp.Count(this=exp.Star())}
    return _select(row, sql).from_(sql.cte("exposed"), copy=False).group_by(
        sql.ref(VARIANT), sql.ref(FIRST_DAY), copy=False)


def _segment_counts(plan: ExperimentPlan, sql: SqlBuilder) -> list[exp.Select]:
    out = []
    for s in plan.segments:
        row = {"kind": sql.text("segment"), "segment": sql.text(s),
               "segment_value": cast(sql.ref(seg(s)), "VARCHAR"), "variant": sql.ref(VARIANT),
               "n": exp.Count(this=exp.Star())}
        out.append(_select(row, sql).from_(sql.cte("exposed"), copy=False).group_by(
            sql.ref(VARIANT), sql.ref(seg(s)), copy=False))
    return out


def _assignment_rows(plan: ExperimentPlan, sql: SqlBuilder, *conditions: exp.Expr
                     ) -> list[exp.Expr]:
    where = [exp.Not(this=exp.Is(this=sql.col(plan.unit, "a"), expression=exp.Null())),
             *conditions]
    flt = sql.filter(plan.assignment_local, "a")
    return [flt, *where] if flt is not None else where


def _unknown(plan: ExperimentPlan, sql: SqlBuilder) -> list[exp.Select]:
    source = plan.assignment
    assert source.time is not None
    time, variant = sql.col(source.time.name, "a"), sql.col(plan.variant_column, "a")
    text = cast(variant.copy(), "VARCHAR")
    unknown = exp.or_(
        exp.Is(this=variant.copy(), expression=exp.Null()),
        exp.Not(this=exp.In(this=text.copy(), expressions=[sql.text(v) for v in plan.variants])))
    distinct = exp.Count(this=exp.Distinct(expressions=[sql.col(plan.unit, "a")]))
    out = []
    for kind, by_day in (("unknown", True), ("unknown_total", False)):
        row = {"kind": sql.text(kind), "segment": sql.text("all"), "variant": text.copy(),
               "n": distinct.copy()}
        if by_day:
            row["day"] = sql.ref(DAY, "d")
        select = _select(row, sql).from_(
            relation(source, plan.segment_joins, sql, "a"), copy=False).join(
            joining(aliased(exp.Table(this=exp.to_identifier("days")), "d"), "inner"),
            on=_in_day(time, "d"), copy=False)
        select = select.where(exp.and_(*_assignment_rows(plan, sql, unknown.copy())),
                              copy=False)
        keys = [text.copy(), *([sql.ref(DAY, "d")] if by_day else [])]
        out.append(select.group_by(*keys, copy=False))
    return out


def _before(plan: ExperimentPlan, sql: SqlBuilder) -> exp.Select:
    source = plan.assignment
    assert source.time is not None
    time = sql.col(source.time.name, "a")
    row = {"kind": sql.text("before"), "segment": sql.text("all"),
           "variant": sql.ref(VARIANT, "e"),
           "n": exp.Count(this=exp.Distinct(expressions=[sql.ref(UNIT, "e")]))}
    select = _select(row, sql).from_(
        aliased(exp.Table(this=exp.to_identifier("exposures")), "e"), copy=False).join(
        joining(relation(source, plan.segment_joins, sql, "a"), "inner"),
        on=exp.EQ(this=sql.col(plan.unit, "a"), expression=sql.ref(UNIT, "e")),
        copy=False)
    select = select.where(exp.and_(*_assignment_rows(
        plan, sql, exp.LT(this=time, expression=sql.ts(plan.start)))), copy=False)
    return select.group_by(sql.ref(VARIANT, "e"), copy=False)


def _metric_rows(plan: ExperimentPlan, base: BaseMetric, kind: str,
                 sql: SqlBuilder) -> exp.Select:
    tail = "__cum" if kind == "cumulative" else ""
    day: exp.Expr = (sql.ref(DAY) if kind == "cumulative"
                     else exp.Sub(this=sql.ref(DAY), expression=sql.ref(FIRST_DAY)))
    x = sql.ref(base.x.name + tail) if base.x else None
    y = sql.ref(base.y.name + tail) if base.y else None
    row: dict[str, exp.Expr] = {
        "kind": sql.text(kind), "day": day, "segment": sql.text("all"),
        "variant": sql.ref(VARIANT), "metric": sql.text(base.name),
        "n": exp.Count(this=exp.Star())}
    if x is not None:
        row["sum_x"] = exp.Sum(this=x)
        row["sum_x2"] = exp.Sum(this=exp.Mul(this=sql.to_float(x.copy()), expression=x.copy()))
    if y is not None and x is not None:
        row["sum_y"] = exp.Sum(this=y)
        row["sum_y2"] = exp.Sum(this=exp.Mul(this=sql.to_float(y.copy()), expression=y.copy()))
        row["sum_xy"] = exp.Sum(this=exp.Mul(this=sql.to_float(x.copy()), expression=y.copy()))
    return _select(row, sql).from_(sql.cte("grid"), copy=False).group_by(
        sql.ref(VARIANT), day.copy(), copy=False)


def _select(row: Mapping[str, exp.Expr], sql: SqlBuilder) -> exp.Select:
    """A branch with its values by column name; `_typed_branch` types and orders them."""
    select = exp.select(*[aliased(v, sql.alias(k)) for k, v in row.items()])
    select.meta["daily_row"] = row
    return select


def _typed_branch(select: exp.Select, *, first: bool, sql: SqlBuilder) -> exp.Select:
    row = select.meta["daily_row"]
    values = []
    for column in DAILY_COLUMNS:
        kind = "VARCHAR" if column in _TEXT else "BIGINT" if column in ("day", "n") else "DOUBLE"
        value = row.get(column)
        typed = (cast(value, kind) if value is not None
                 else sql.typed_null(kind) if first else exp.Null())
        values.append(aliased(typed, sql.alias(column)))
    select.set("expressions", values)
    return select
