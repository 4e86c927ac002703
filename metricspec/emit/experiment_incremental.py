"""SQL for an experiment refreshed incrementally (`metricspec run --incremental`).

The state lives in tables of a scratch schema that metricspec creates, one set per
experiment and definition hash (`StateNames`):

    <prefix>__exposures   per (unit, hour of exposure): the first assignment row of the hour
                          (ties broken as `exposure_log` breaks them) and the least and
                          greatest variant of the hour
    <prefix>__s_<source>  per (unit, hour of event): every additive component of the source
                          (count, sum, min, max) over the unit's post-exposure events
    <prefix>__units       the exposures the event state was last built against

Each of them merges over hours exactly as the full query computes it over the whole window:
the first row of the first hour is the first row; least/greatest of least/greatest; counts
and sums add; minimums and maximums merge. A refresh deletes the hours from a cutoff on and
inserts them again from the source rows of those hours, so it reads only those rows. The
statistics query then merges the state per unit and continues with the full query's own
`units`, winsorisation, `stats` and long-format CTEs (`experiment_sql.finish`).

Every statement is one statement; tables are addressed as quoted identifiers in the schema.
Which experiments can be refreshed so is judged by `plan.incremental.incremental_problems`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlglot import exp

from metricspec.emit.experiment_parts import EXPOSED, UNIT, VARIANT, seg
from metricspec.emit.experiment_sql import finish
from metricspec.emit.join_sql import local_filter, relation
from metricspec.emit.joining import joining
from metricspec.emit.sqlbuild import SqlBuilder, cast, with_ctes
from metricspec.plan.experiment import ExperimentPlan
from metricspec.plan.lower import InternalError, Measure

BUCKET = "__bucket"
MERGE = {"count": "sum", "sum": "sum", "min": "min", "max": "max"}


@dataclass(frozen=True)
class StateNames:
    """Where one experiment definition keeps its state."""

    schema: str
    prefix: str  # "<experiment>__<hash12>", at most 40 characters

    @classmethod
    def of(cls, schema: str, experiment: str, meaning_hash: str) -> StateNames:
        return cls(schema, f"{experiment[:26]}__{meaning_hash[:12]}")

    def exposures(self) -> str:
        return f"{self.prefix}__exposures"

    def units(self) -> str:
        return f"{self.prefix}__units"

    def source(self, name: str) -> str:
        table = f"{self.prefix}__s_{name}"
        if len(table) <= 63:  # PostgreSQL's limit; a longer name by its digest
            return table
        return f"{self.prefix}__s_{hashlib.sha256(name.encode()).hexdigest()[:16]}"

    def all(self, plan: ExperimentPlan) -> list[str]:
        return [self.exposures(), *[self.source(s) for s in plan.scan_sources()], self.units()]

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


def existing_tables(names: StateNames, sql: SqlBuilder) -> str:
    """The state tables of this definition that exist (a missing one means: rebuild)."""
    select = exp.select(exp.column("table_name")).from_(
        exp.Table(this=exp.to_identifier("tables"), db=exp.to_identifier("information_schema")))
    return _render(select.where(
        exp.EQ(this=exp.column("table_schema"), expression=sql.text(names.schema))), sql)


def latest_hour(names: StateNames, name: str, sql: SqlBuilder) -> str:
    select = exp.select(exp.Max(this=sql.ref(BUCKET)).as_(sql.alias("latest"), copy=False))
    return _render(select.from_(names.table(sql, name)), sql)


def delete_from(names: StateNames, name: str, cutoff: dt.datetime, sql: SqlBuilder) -> str:
    delete = exp.Delete(this=names.table(sql, name),
                        where=exp.Where(this=exp.GTE(this=sql.ref(BUCKET),
                                                     expression=sql.ts(cutoff))))
    return _render(delete, sql)


def _write(names: StateNames, name: str, select: exp.Select, create: bool,
           sql: SqlBuilder) -> str:
    table = names.table(sql, name)
    if create:
        return _render(exp.Create(this=table, kind="TABLE", expression=select), sql)
    return _render(exp.insert(select, table), sql)


def exposure_state(plan: ExperimentPlan, names: StateNames, cutoff: dt.datetime | None,
                   create: bool, sql: SqlBuilder) -> str:
    """CREATE (from the window's start) or INSERT (from `cutoff`) the exposure state."""
    source = plan.assignment
    if source.time is None or plan.history:
        raise InternalError("an incremental experiment needs an assignment time")
    unit, variant = sql.col(plan.unit, "a"), sql.col(plan.variant_column, "a")
    time = sql.col(source.time.name, "a")
    by = [unit.copy(), _hour(time.copy())]
    log = exp.select(
        unit.copy().as_(sql.alias(UNIT), copy=False),
        cast(variant.copy(), "VARCHAR").as_(sql.alias(VARIANT), copy=False),
        time.copy().as_(sql.alias(EXPOSED), copy=False),
        *[sql.col(plan.segment_column(s), "a").as_(
            sql.alias(seg(s)), copy=False) for s in plan.segments],
        _hour(time.copy()).as_(sql.alias(BUCKET), copy=False),
        exp.Window(this=exp.RowNumber(), partition_by=[b.copy() for b in by], order=exp.Order(
            expressions=[sql.asc(time.copy()), sql.asc(variant.copy()),
                         *[sql.asc(sql.col(plan.segment_column(s), "a")) for s in plan.segments]]),
                   ).as_(sql.alias("__exposure_rank"), copy=False),
        exp.Window(this=exp.Min(this=variant.copy()), partition_by=[b.copy() for b in by]
                   ).as_(sql.alias("__variant_min"), copy=False),
        exp.Window(this=exp.Max(this=variant.copy()), partition_by=[b.copy() for b in by]
                   ).as_(sql.alias("__variant_max"), copy=False),
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
    log = log.where(exp.and_(*conditions), copy=False)
    keep = [UNIT, VARIANT, EXPOSED, *[seg(s) for s in plan.segments], BUCKET,
            "__variant_min", "__variant_max"]
    select = exp.select(*[sql.ref(c) for c in keep]).from_(sql.cte("exposure_log"), copy=False)
    select = select.where(exp.EQ(this=sql.ref("__exposure_rank"),
                                 expression=exp.Literal.number(1)), copy=False)
    with_ctes(select, [("exposure_log", log)])
    return _write(names, names.exposures(), select, create, sql)


def exposure_ctes(plan: ExperimentPlan, names: StateNames,
                  sql: SqlBuilder) -> list[tuple[str, exp.Expr]]:
    """`exposures` as the full query's, merged from the exposure state."""
    by = [sql.ref(UNIT)]
    order = exp.Order(expressions=[sql.asc(sql.ref(c)) for c in
                                   (EXPOSED, VARIANT, *[seg(s) for s in plan.segments])])
    days = exp.select(
        *[sql.ref(c) for c in (UNIT, VARIANT, EXPOSED, *[seg(s) for s in plan.segments])],
        exp.Window(this=exp.RowNumber(), partition_by=[b.copy() for b in by], order=order
                   ).as_(sql.alias("__exposure_rank"), copy=False),
        exp.Window(this=exp.Min(this=sql.ref("__variant_min")),
                   partition_by=[b.copy() for b in by]).as_(sql.alias("__variant_min"), copy=False),
        exp.Window(this=exp.Max(this=sql.ref("__variant_max")),
                   partition_by=[b.copy() for b in by]).as_(sql.alias("__variant_max"), copy=False),
    ).from_(names.table(sql, names.exposures()), copy=False)
    exposures = exp.select(
        *[sql.ref(c) for c in (UNIT, VARIANT, EXPOSED, *[seg(s) for s in plan.segments])]
    ).from_(sql.cte("exposure_log"), copy=False).where(exp.and_(
        exp.EQ(this=sql.ref("__exposure_rank"), expression=exp.Literal.number(1)),
        exp.EQ(this=sql.ref("__variant_min"), expression=sql.ref("__variant_max"))),
        copy=False)
    return [("exposure_log", days), ("exposures", exposures)]


def units_snapshot(plan: ExperimentPlan, names: StateNames, sql: SqlBuilder) -> str:
    """CREATE the table of the exposures the event state is built against."""
    select = exp.select(sql.ref(UNIT), sql.ref(EXPOSED)).from_(sql.cte("exposures"))
    with_ctes(select, exposure_ctes(plan, names, sql))
    return _write(names, names.units(), select, True, sql)


def moved_units(plan: ExperimentPlan, names: StateNames, cutoff: dt.datetime,
                sql: SqlBuilder) -> str:
    """How many exposed units are new or exposed at another time than the event state was
    built for, with either time before `cutoff`: their events before it are then wrong."""
    new, old = sql.ref(EXPOSED, "n"), sql.ref(EXPOSED, "o")
    early = exp.or_(exp.LT(this=new.copy(), expression=sql.ts(cutoff)),
                    exp.LT(this=old.copy(), expression=sql.ts(cutoff)))
    changed = exp.or_(exp.Is(this=sql.ref(UNIT, "o"), expression=exp.Null()),
                      exp.NEQ(this=new.copy(), expression=old.copy()))
    select = exp.select(exp.Count(this=exp.Star()).as_(sql.alias("moved"), copy=False)).from_(
        exp.Table(this=exp.to_identifier("exposures")).as_("n", copy=False), copy=False).join(
        joining(names.table(sql, names.units()).as_("o", copy=False), "left"),
        on=exp.EQ(this=sql.ref(UNIT, "n"), expression=sql.ref(UNIT, "o")),
        copy=False).where(exp.and_(changed, early), copy=False)
    with_ctes(select, exposure_ctes(plan, names, sql))
    return _render(select, sql)


def _components(plan: ExperimentPlan, source: str) -> list[Measure]:
    found = []
    for base in plan.bases:
        for comp in (base.x, base.y):
            if comp is not None and comp.source == source:
                if comp.func not in MERGE:
                    raise InternalError(f"`{comp.func}` is not additive over hours")
                found.append(comp)
    return found


def source_state(plan: ExperimentPlan, names: StateNames, source: str,
                 cutoff: dt.datetime | None, create: bool, sql: SqlBuilder) -> str:
    """CREATE or INSERT one source's event state: components per (unit, hour)."""
    src = plan.sources[source]
    assert src.time is not None
    time = sql.col(src.time.name, "s")
    select = exp.select(sql.ref(UNIT, "e").as_(sql.alias(UNIT), copy=False),
                        _hour(time.copy()).as_(sql.alias(BUCKET), copy=False))
    joins = plan.joins.get(source)  # dimensions the components' filters read
    for comp in _components(plan, source):
        value = sql.col(comp.column, "s") if comp.column else None
        flt = local_filter(joins, comp.filter)
        select = select.select(sql.agg(comp.func, value, sql.filter(flt, "s")).as_(
            sql.alias(comp.name), copy=False), copy=False)
    select = select.from_(relation(src, joins, sql, "s"), copy=False).join(
        joining(exp.Table(this=exp.to_identifier("exposures")).as_("e", copy=False), "inner"),
        on=exp.EQ(this=sql.col(plan.unit, "s"), expression=sql.ref(UNIT, "e")),
        copy=False)
    lower = plan.start if cutoff is None else max(plan.start, cutoff)
    select = select.where(exp.and_(
        exp.GTE(this=time.copy(), expression=sql.ts(lower)),
        exp.LT(this=time.copy(), expression=sql.ts(plan.end)),
        exp.GTE(this=time.copy(), expression=sql.ref(EXPOSED, "e"))), copy=False)
    select = select.group_by(sql.ref(UNIT, "e"), _hour(time.copy()), copy=False)
    with_ctes(select, exposure_ctes(plan, names, sql))
    return _write(names, names.source(source), select, create, sql)


def statistics_sql(plan: ExperimentPlan, names: StateNames, sql: SqlBuilder) -> exp.Select:
    """The sufficient statistics in the long format, from the state."""
    ctes = exposure_ctes(plan, names, sql)
    units_from: list[tuple[str, list[str]]] = []
    for source in plan.scan_sources():
        comps = _components(plan, source)
        if not comps:
            continue
        select = exp.select(sql.ref(UNIT).as_(sql.alias(UNIT), copy=False))
        for comp in comps:
            merged: exp.Expr = {"sum": exp.Sum, "min": exp.Min, "max": exp.Max}[
                MERGE[comp.func]](this=sql.ref(comp.name))
            if comp.func == "count":
                merged = cast(merged, "BIGINT")
            select = select.select(merged.as_(sql.alias(comp.name), copy=False), copy=False)
        select = select.from_(names.table(sql, names.source(source)), copy=False)
        ctes.append((f"{source}_units", select.group_by(sql.ref(UNIT), copy=False)))
        units_from.append((f"{source}_units", [c.name for c in comps]))
    more, select = finish(plan, units_from, sql)
    with_ctes(select, [*ctes, *more])
    return select
