"""SQL for an experiment refreshed incrementally (`metricspec run --incremental`).

The state lives in tables of a scratch schema that metricspec creates, one set per
experiment and definition hash (`StateNames`):

    <prefix>__units   one row per unit: its first assignment row (ties broken as
                      `exposure_log` breaks them), its least and greatest variant, and every
                      additive component (count, sum, min, max) of every source over the
                      unit's post-exposure events before `__mark`
    <prefix>__recent  per (unit, hour of event): the same components from `__mark` on
    <prefix>__mark    one row: the hour the folded components end and `recent` starts

A refresh from a cutoff (at or after the mark) rewrites `units`: merged with the assignment
rows from the cutoff (first row, least, greatest: merging a row twice changes nothing) and
with the `recent` rows before the cutoff (counts and sums add, minimums and maximums merge);
then it builds `recent` again from the source rows from the cutoff. So the sources are read
only from the cutoff, and the state about once per unit per statement. The statistics query
merges `units` and `recent` per unit and continues with the full query's own `units`,
winsorisation, `stats` and long-format CTEs (`experiment_sql.finish`).

Every statement is one statement; tables are addressed as quoted identifiers in the schema.
Which experiments can be refreshed so is judged by `plan.incremental.incremental_problems`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlglot import exp

from metricspec.emit.experiment_parts import EXPOSED, UNIT, VARIANT, seg
from metricspec.emit.experiment_sql import finish
from metricspec.emit.join_sql import local_filter, relation
from metricspec.emit.sqlbuild import SqlBuilder, cast, with_ctes
from metricspec.plan.experiment import ExperimentPlan
from metricspec.plan.lower import InternalError, Measure

BUCKET = "__bucket"
MERGE = {"count": "sum", "sum": "sum", "min": "min", "max": "max"}
LOW, HIGH = "__variant_min", "__variant_max"
TABLES = ("units", "recent", "mark")


@dataclass(frozen=True)
class StateNames:
    """Where one experiment definition keeps its state."""

    schema: str
    prefix: str  # "<experiment>__<hash12>", at most 40 characters

    @classmethod
    def of(cls, schema: str, experiment: str, meaning_hash: str) -> StateNames:
        return cls(schema, f"{experiment[:26]}__{meaning_hash[:12]}")

    def name(self, kind: str) -> str:
        """The table of one kind of state (`TABLES`), or its `_next` while rewritten."""
        return f"{self.prefix}__{kind}"

    def all(self) -> list[str]:
        return [self.name(t) for t in TABLES]

    def table(self, sql: SqlBuilder, name: str) -> exp.Table:
        return exp.Table(this=sql.ident(name), db=sql.ident(self.schema))


def _render(tree: exp.Expr, sql: SqlBuilder) -> str:
    return tree.sql(dialect=sql.backend.sqlglot_dialect)


def _hour(value: exp.Expr) -> exp.Expr:
    return exp.TimestampTrunc(this=value, unit=exp.var("HOUR"))


def create_schema(names: StateNames, sql: SqlBuilder) -> str:
    return _render(exp.Create(this=exp.Table(db=sql.ident(names.schema)), kind="SCHEMA",
                              exists=True), sql)


def drop_table(names: StateNames, name: str, sql: SqlBuilder) -> str:
    return _render(exp.Drop(tables=[names.table(sql, name)], kind="TABLE", exists=True), sql)


def rename_table(names: StateNames, name: str, to: str, sql: SqlBuilder) -> str:
    return _render(exp.Alter(this=names.table(sql, name), kind="TABLE", actions=[
        exp.AlterRename(this=exp.Table(this=sql.ident(to)))]), sql)


def existing_tables(names: StateNames, sql: SqlBuilder) -> str:
    """The state tables of this definition that exist (a missing one means: rebuild)."""
    select = exp.select(exp.column("table_name")).from_(
        exp.Table(this=exp.to_identifier("tables"), db=exp.to_identifier("information_schema")))
    return _render(select.where(
        exp.EQ(this=exp.column("table_schema"), expression=sql.text(names.schema))), sql)


def watermark(names: StateNames, sql: SqlBuilder) -> str:
    """The mark and the latest hour of events the state holds (NULL: none yet)."""
    latest = exp.select(exp.Max(this=sql.ref(BUCKET))).from_(
        names.table(sql, names.name("recent")))
    select = exp.select(sql.ref(BUCKET).as_(sql.alias("mark")),
                        exp.Subquery(this=latest).as_(sql.alias("latest")))
    return _render(select.from_(names.table(sql, names.name("mark"))), sql)


def write_mark(names: StateNames, mark: dt.datetime, sql: SqlBuilder) -> str:
    select = exp.select(sql.ts(mark).as_(sql.alias(BUCKET)))
    return _render(exp.Create(this=names.table(sql, names.name("mark")), kind="TABLE",
                              expression=select), sql)


def _create(names: StateNames, name: str, select: exp.Select, sql: SqlBuilder) -> str:
    return _render(exp.Create(this=names.table(sql, name), kind="TABLE", expression=select), sql)


def _exposure_columns(plan: ExperimentPlan) -> list[str]:
    return [UNIT, VARIANT, EXPOSED, *[seg(s) for s in plan.segments]]


def units_state(plan: ExperimentPlan, names: StateNames, cutoff: dt.datetime | None,
                sql: SqlBuilder) -> str:
    """CREATE `units_next`. A rebuild (`cutoff` None): the exposures from the window's start,
    no components yet (`with_components` adds them). A refresh: `units` merged with the
    assignment rows from `cutoff` and with the `recent` rows before it, folded."""
    source = plan.assignment
    if source.time is None or plan.history:
        raise InternalError("an incremental experiment needs an assignment time")
    unit, variant = sql.col(plan.unit, "a"), sql.col(plan.variant_column, "a")
    time = sql.col(source.time.name, "a")
    comps = [] if cutoff is None else _every(plan)
    rows = exp.select(
        unit.copy().as_(sql.alias(UNIT)),
        cast(variant.copy(), "VARCHAR").as_(sql.alias(VARIANT)),
        time.copy().as_(sql.alias(EXPOSED)),
        *[sql.col(plan.segment_column(s), "a").as_(sql.alias(seg(s))) for s in plan.segments],
        cast(variant.copy(), "VARCHAR").as_(sql.alias(LOW)),
        cast(variant.copy(), "VARCHAR").as_(sql.alias(HIGH)),
        *[exp.Null().as_(sql.alias(c.name)) for c in comps],
    ).from_(relation(source, plan.segment_joins, sql, "a"), copy=False)
    lower = plan.start if cutoff is None else max(plan.start, cutoff)
    conditions: list[exp.Expr] = [
        exp.GTE(this=time.copy(), expression=sql.ts(lower)),
        exp.LT(this=time.copy(), expression=sql.ts(plan.end)),
        exp.In(this=variant.copy(), expressions=[sql.text(v) for v in plan.variants]),
        exp.Not(this=exp.Is(this=unit.copy(), expression=exp.Null())),
    ]
    flt = sql.filter(plan.assignment_local, "a")
    if flt is not None:
        conditions.insert(0, flt)
    rows = rows.where(exp.and_(*conditions), copy=False)
    keep = [*_exposure_columns(plan), LOW, HIGH]
    both: exp.Query = rows
    if cutoff is not None:  # the typed branch first: the others' NULLs take its types
        old = exp.select(*[sql.ref(c) for c in [*keep, *[c.name for c in comps]]]).from_(
            names.table(sql, names.name("units")))
        folded = exp.select(sql.ref(UNIT), *[exp.Null() for _ in keep[1:]],
                            *[sql.ref(c.name) for c in comps]).from_(
            names.table(sql, names.name("recent"))).where(
            exp.LT(this=sql.ref(BUCKET), expression=sql.ts(cutoff)))
        both = exp.union(exp.union(old, rows, distinct=False), folded, distinct=False)
    by = [sql.ref(UNIT)]
    nulls_last = exp.Case(ifs=[exp.If(this=exp.Is(this=sql.ref(EXPOSED), expression=exp.Null()),
                                      true=exp.Literal.number(1))],
                          default=exp.Literal.number(0))
    order = exp.Order(expressions=[sql.asc(nulls_last), *[sql.asc(sql.ref(c)) for c in
                                   (EXPOSED, VARIANT, *[seg(s) for s in plan.segments])]])
    ranked = exp.select(
        *[sql.ref(c) for c in _exposure_columns(plan)],
        exp.Window(this=exp.RowNumber(), partition_by=[b.copy() for b in by], order=order
                   ).as_(sql.alias("__exposure_rank")),
        exp.Window(this=exp.Min(this=sql.ref(LOW)), partition_by=[b.copy() for b in by]
                   ).as_(sql.alias(LOW)),
        exp.Window(this=exp.Max(this=sql.ref(HIGH)), partition_by=[b.copy() for b in by]
                   ).as_(sql.alias(HIGH)),
        *[_merged(c, sql, [b.copy() for b in by]).as_(sql.alias(c.name)) for c in comps],
    ).from_(exp.Subquery(this=both, alias=exp.TableAlias(this=exp.to_identifier("r"))),
            copy=False)
    select = exp.select(*[sql.ref(c) for c in [*keep, *[c.name for c in comps]]]).from_(
        sql.cte("exposure_log"), copy=False)
    select = select.where(exp.EQ(this=sql.ref("__exposure_rank"),
                                 expression=exp.Literal.number(1)), copy=False)
    with_ctes(select, [("exposure_log", ranked)])
    return _create(names, names.name("units_next"), select, sql)


def with_components(plan: ExperimentPlan, names: StateNames, sql: SqlBuilder) -> str:
    """CREATE `units` from a rebuild's `units_next`, with every component column (typed as
    `recent`'s, all NULL: a rebuild folds nothing yet)."""
    comps = _every(plan)
    none = exp.select(sql.ref(UNIT), *[sql.ref(c.name) for c in comps]).from_(
        names.table(sql, names.name("recent"))).where(exp.false())
    select = exp.select(*[sql.ref(c, "u") for c in [*_exposure_columns(plan), LOW, HIGH]],
                        *[sql.ref(c.name, "z") for c in comps]).from_(
        names.table(sql, names.name("units_next")).as_("u")).join(
        exp.Subquery(this=none, alias=exp.TableAlias(this=exp.to_identifier("z"))),
        on=exp.EQ(this=sql.ref(UNIT, "z"), expression=sql.ref(UNIT, "u")), join_type="left")
    return _create(names, names.name("units"), select, sql)


def _exposures(plan: ExperimentPlan, names: StateNames, sql: SqlBuilder, table: str = "units",
               log: bool = False) -> list[tuple[str, exp.Expr]]:
    """`exposures` as the full query's: the units seen in one variant only; with `log`,
    also `exposure_log` as far as the statistics read it (each unit's first row, with the
    components folded so far)."""
    units: exp.Expr = names.table(sql, names.name(table))
    ctes: list[tuple[str, exp.Expr]] = []
    if log:
        columns = [*_exposure_columns(plan), LOW, HIGH, *[c.name for c in _every(plan)]]
        rank = exp.Literal.number(1).as_(sql.alias("__exposure_rank"))
        ctes.append(("exposure_log", exp.select(*[sql.ref(c) for c in columns], rank).from_(
            units)))
        units = sql.cte("exposure_log")
    ctes.append(("exposures", exp.select(*[sql.ref(c) for c in _exposure_columns(plan)]).from_(
        units, copy=False).where(exp.EQ(this=sql.ref(LOW), expression=sql.ref(HIGH)),
                                 copy=False)))
    return ctes


def _components(plan: ExperimentPlan) -> dict[str, list[Measure]]:
    """Every component the statistics need, by source (each name once)."""
    found: dict[str, list[Measure]] = {}
    seen: set[str] = set()
    for base in plan.bases:
        for comp in (base.x, base.y):
            if comp is None or comp.name in seen:
                continue
            if comp.func not in MERGE:
                raise InternalError(f"`{comp.func}` is not additive over hours")
            seen.add(comp.name)
            found.setdefault(comp.source, []).append(comp)
    return found


def _merged(comp: Measure, sql: SqlBuilder, over: list[exp.Expr] | None = None) -> exp.Expr:
    """One component merged over rows: per group, or over the partition `over`."""
    merged: exp.Expr = {"sum": exp.Sum, "min": exp.Min, "max": exp.Max}[MERGE[comp.func]](
        this=sql.ref(comp.name))
    if over is not None:
        merged = exp.Window(this=merged, partition_by=over)
    return cast(merged, "BIGINT") if comp.func == "count" else merged


def _every(plan: ExperimentPlan) -> list[Measure]:
    comps = _components(plan)
    return [c for source in plan.scan_sources() for c in comps.get(source, [])]


def recent_state(plan: ExperimentPlan, names: StateNames, cutoff: dt.datetime,
                 sql: SqlBuilder, exposed: str = "units") -> str:
    """CREATE `recent`: every source's components per (unit, hour) from `cutoff`, against
    the exposures of `exposed` (a rebuild's `units_next`); the sources' rows FULL JOINed on
    (unit, hour), so every column keeps its type on every engine (a UNION ALL would give
    the other sources' columns untyped NULLs)."""
    comps = _components(plan)
    joined: exp.Select | None = None
    have: list[str] = []
    for source in plan.scan_sources():
        if source not in comps:
            continue
        select = _source_rows(plan, source, comps[source], cutoff, sql)
        mine = [c.name for c in comps[source]]
        if joined is None:
            joined, have = select, mine
            continue
        keys = [UNIT, BUCKET]
        joined = exp.select(
            *[exp.Coalesce(this=sql.ref(k, "l"), expressions=[sql.ref(k, "n")]).as_(
                sql.alias(k)) for k in keys],
            *[sql.ref(c, "l") for c in have], *[sql.ref(c, "n") for c in mine],
        ).from_(exp.Subquery(this=joined, alias=exp.TableAlias(this=exp.to_identifier("l"))),
                copy=False).join(
            exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier("n"))),
            on=exp.and_(*[exp.EQ(this=sql.ref(k, "l"), expression=sql.ref(k, "n"))
                          for k in keys]), join_type="full", copy=False)
        have = [*have, *mine]
    if joined is None:
        raise InternalError("an incremental experiment reads no events")
    with_ctes(joined, _exposures(plan, names, sql, exposed))
    return _create(names, names.name("recent"), joined, sql)


def _source_rows(plan: ExperimentPlan, source: str, comps: list[Measure],
                 cutoff: dt.datetime, sql: SqlBuilder) -> exp.Select:
    """One source's components per (unit, hour) of its post-exposure events from `cutoff`."""
    src = plan.sources[source]
    assert src.time is not None
    time = sql.col(src.time.name, "s")
    select = exp.select(sql.ref(UNIT, "e").as_(sql.alias(UNIT)),
                        _hour(time.copy()).as_(sql.alias(BUCKET)))
    joins = plan.joins.get(source)  # dimensions the components' filters read
    for comp in comps:
        value = sql.col(comp.column, "s") if comp.column else None
        flt = local_filter(joins, comp.filter)
        select = select.select(sql.agg(comp.func, value, sql.filter(flt, "s")).as_(
            sql.alias(comp.name)), copy=False)
    select = select.from_(relation(src, joins, sql, "s"), copy=False).join(
        exp.Table(this=exp.to_identifier("exposures")).as_("e"),
        on=exp.EQ(this=sql.col(plan.unit, "s"), expression=sql.ref(UNIT, "e")),
        join_type="inner", copy=False)
    select = select.where(exp.and_(
        exp.GTE(this=time.copy(), expression=sql.ts(max(plan.start, cutoff))),
        exp.LT(this=time.copy(), expression=sql.ts(plan.end)),
        exp.GTE(this=time.copy(), expression=sql.ref(EXPOSED, "e"))), copy=False)
    return select.group_by(sql.ref(UNIT, "e"), _hour(time.copy()), copy=False)


def statistics_sql(plan: ExperimentPlan, names: StateNames, sql: SqlBuilder) -> exp.Select:
    """The sufficient statistics in the long format, from the state: per unit, the
    components folded in `units` merged with the `recent` rows."""
    every = _every(plan)
    columns = [UNIT, *[c.name for c in every]]
    both = exp.union(exp.select(*[sql.ref(c) for c in columns]).from_(sql.cte("exposure_log")),
                     exp.select(*[sql.ref(c) for c in columns]).from_(
                         names.table(sql, names.name("recent"))), distinct=False)
    state = exp.select(sql.ref(UNIT), *[_merged(c, sql).as_(sql.alias(c.name)) for c in every])
    state = state.from_(exp.Subquery(this=both, alias=exp.TableAlias(
        this=exp.to_identifier("r"))), copy=False).group_by(sql.ref(UNIT), copy=False)
    ctes = [*_exposures(plan, names, sql, log=True), ("state_units", state)]
    more, select = finish(plan, [("state_units", [c.name for c in every])], sql)
    with_ctes(select, [*ctes, *more])
    return select
