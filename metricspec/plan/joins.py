"""The joins of one scan: the dimensions a source's query reads from other tables.

A scan reads its source once; the dimensions it groups or filters by that live in other
tables are joined to it along many-to-one paths (`metricspec.entity_graph`), so the joined
relation has exactly the source's rows. `plan_joins` lists, for one source, each reference
that leaves the source (`users.plan`), the path `check` accepted for it and the column it
is given in the joined relation; `Joins.localize` rewrites a filter's references to those
columns. The emitter (`emit.join_sql`) builds the relation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from metricspec import ir
from metricspec.entity_graph import EntityGraph, JoinPath, JoinProblem, output_name
from metricspec.filters import CheckedFilter, parse_filter
from metricspec.plan.lower import Conversion, InternalError, Measure, PlanError


@dataclass(frozen=True)
class Joined:
    """A dimension from another table: the reference as written, its path, its column."""

    reference: str
    path: JoinPath
    output: str


@dataclass(frozen=True)
class Joins:
    """What one scan reads beyond its source's own columns."""

    source: ir.Source
    columns: tuple[Joined, ...]
    #: The source's own derived dimensions the scan reads, computed in the relation.
    derived: tuple[ir.DerivedDimension, ...] = ()
    tables: dict[str, ir.Source] = field(default_factory=dict)

    def column(self, reference: str) -> str:
        """The joined relation's column for a reference (its own name if not joined)."""
        for joined in self.columns:
            if joined.reference == reference:
                return joined.output
        return reference.split(".")[-1]

    def localize(self, checked: CheckedFilter | None) -> CheckedFilter | None:
        """The filter with every reference to a joined dimension pointing at its column."""
        if checked is None or not self.columns:
            return checked
        holder = exp.Paren(this=checked.tree.copy())  # a root column is replaced too
        for column in list(holder.find_all(exp.Column)):
            reference = ".".join(part.name for part in column.parts)
            if any(j.reference == reference for j in self.columns):
                column.replace(exp.column(self.column(reference)))
        return dataclasses.replace(checked, tree=holder.this)

    def own_columns(self, measure: Measure) -> tuple[str, ...]:
        """The columns of the source itself a measure reads (its joined ones left out)."""
        return tuple(dict.fromkeys([*([measure.column] if measure.column else []),
                                    *self._own(measure.filter)]))

    def _own(self, checked: CheckedFilter | None) -> list[str]:
        leaving = {j.reference for j in self.columns} | {d.name for d in self.derived}
        refs = checked.references if checked else ()
        return [r.name for r in refs if _reference(r.table or "", r.name) not in leaving
                and (r.table is None or r.table == self.source.name)]

    def columns_read(self) -> dict[str, tuple[str, ...]]:
        """The columns read from each dimension table, and the keys read from the source."""
        needed: dict[str, dict[str, None]] = {self.source.name: {}}
        for joined in self.columns:
            for edge in joined.path.edges:
                needed.setdefault(edge.source, {})[edge.key] = None
                table = self.tables[edge.target]
                reads = needed.setdefault(edge.target, {})
                reads[edge.key] = None
                for validity in (table.valid_from, table.valid_to):
                    if validity is not None:
                        reads[validity.name] = None
            reads = needed[joined.path.target]
            derived = _derived(self.tables[joined.path.target], joined.path.column)
            reads.update(dict.fromkeys(_expr_columns(derived) if derived else
                                       (joined.path.column,)))
        for own in self.derived:
            checked, _ = parse_filter(own.expr.sql)
            needed[self.source.name].update(dict.fromkeys(self._own(checked)))
        return {name: tuple(cols) for name, cols in needed.items()}


def plan_joins(sources: dict[str, ir.Source], source: ir.Source, dimensions: Iterable[str],
               measures: Iterable[Measure] = ()) -> Joins | None:
    """The joins a scan of `source` needs for these dimensions and measures' filters; None
    when it reads only its own columns. A reference no path reaches is refused as a request
    (`PlanError`) for dimensions and as an internal error for filters, which `check` judged.
    """
    graph = EntityGraph(sources)
    found: dict[str, Joined] = {}
    derived: dict[str, ir.DerivedDimension] = {}

    def add(reference: str, requested: bool) -> None:
        resolved = graph.resolve(source.name, reference)
        if isinstance(resolved, JoinProblem):
            if requested:
                raise PlanError(resolved.message + (f"; {resolved.hint}" if resolved.hint
                                                    else ""))
            raise InternalError(f"filter reference `{reference}`: {resolved.message}",
                                resolved.code)
        if resolved is None:
            own = _derived(source, reference.split(".")[-1])
            if own is not None and own.name not in derived:
                derived[own.name] = own
                checked, _ = parse_filter(own.expr.sql)
                for inner in filter_references(checked, source):
                    if inner not in derived:
                        add(inner, False)
        elif reference not in found:
            found[reference] = Joined(reference, resolved, output_name(reference))

    for dimension in dimensions:
        add(dimension, True)
    for measure in measures:
        for ref in filter_references(measure.filter, source):
            add(ref, False)
    if not found and not derived:
        return None
    tables = {e.target: sources[e.target] for j in found.values() for e in j.path.edges}
    return Joins(source, tuple(found.values()), tuple(derived.values()), tables)


def conversion_joins(sources: dict[str, ir.Source], conv: Conversion) -> Conversion:
    """The conversion with the joins its two ends' filters need (each end's events joined
    many-to-one to the dimension tables its filter reads, so no event is repeated)."""
    def ends(source: str, flt: CheckedFilter | None) -> Joins | None:
        return plan_joins(sources, sources[source], (), [
            Measure(f"{conv.name}__{source}", source, "count", filter=flt)])

    return dataclasses.replace(conv, start_joins=ends(conv.start_source, conv.start_filter),
                               end_joins=ends(conv.end_source, conv.end_filter))


def conversion_columns(conv: Conversion) -> dict[str, tuple[str, ...]]:
    """The columns a conversion reads, by source: its entity and its filters' own columns
    from each end, the joined dimensions from their tables."""
    needed: dict[str, dict[str, None]] = {}
    for source, flt, joins in ((conv.start_source, conv.start_filter, conv.start_joins),
                               (conv.end_source, conv.end_filter, conv.end_joins)):
        measure = Measure(f"{conv.name}__{source}", source, "count", filter=flt)
        own = joins.own_columns(measure) if joins else measure.columns_read
        needed.setdefault(source, {}).update(dict.fromkeys((conv.entity, *own)))
        for name, columns in (joins.columns_read() if joins else {}).items():
            needed.setdefault(name, {}).update(dict.fromkeys(columns))
    return {name: tuple(columns) for name, columns in needed.items()}


def filter_references(checked: CheckedFilter | None, source: ir.Source) -> list[str]:
    """The references of a filter that leave its source: qualified by another name, or,
    for a source that declares its columns, a name it does not declare (or a derived one)."""
    if checked is None:
        return []
    own = {c.name for c in source.all_columns()}
    derived = {d.name for d in source.derived}
    out = []
    for ref in checked.references:
        if ref.table is not None and ref.table != source.name:
            out.append(f"{ref.table}.{ref.name}")
        elif ref.name in derived or (source.typed and ref.name not in own):
            out.append(ref.name)
    return list(dict.fromkeys(out))


def _reference(table: str, name: str) -> str:
    return f"{table}.{name}" if table else name


def _derived(source: ir.Source, name: str) -> ir.DerivedDimension | None:
    return next((d for d in source.derived if d.name == name), None)


def _expr_columns(derived: ir.DerivedDimension) -> tuple[str, ...]:
    checked, _ = parse_filter(derived.expr.sql)
    if checked is None:
        raise InternalError(f"derived dimension `{derived.name}` does not parse", "MS403")
    return checked.columns


def joined_dimension(project: dict[str, ir.Source], sources: dict[str, ir.Source],
                     reference: str, conversions: bool) -> bool | JoinProblem:
    """Whether every grouped source reaches `reference` (its own column or a join path,
    at least one a join), or the first problem found on the way."""
    graph = EntityGraph(project)
    found = [graph.resolve(name, reference) for name in sources]
    for resolved in found:
        if isinstance(resolved, JoinProblem):
            return resolved
    if not any(isinstance(r, JoinPath) for r in found):
        return False
    if conversions:
        raise PlanError(f"`{reference}` is read through a join, which conversion metrics "
                        "do not support yet: group them by their sources' own dimensions")
    return True


def output_names(dimensions: Iterable[str], joins: Iterable[Joins | None]) -> tuple[str, ...]:
    """The result column of each requested dimension: a joined one's reference with `_`
    for dots (`users_plan`), an own one's name (`messages.channel` is `channel`)."""
    joined = {j.reference for js in joins if js for j in js.columns}
    return tuple(output_name(d) if d in joined else d.split(".")[-1] for d in dimensions)


@dataclass(frozen=True)
class TableRead:
    """One table a metric reads: the source, its table or query, and how it is reached
    (`via` is empty for a source the metric aggregates, else the join path)."""

    source: str
    table: str
    via: str
    keys: str


def lineage(sources: dict[str, ir.Source], aggregated: Iterable[tuple[str, str | None]]
            ) -> list[TableRead]:
    """The tables a metric reads: each source it aggregates (given as (source, filter
    text) pairs), then each dimension table its filters reach, with the joins followed."""
    out: dict[tuple[str, str], TableRead] = {}
    graph = EntityGraph(sources)
    for name, text in aggregated:
        source = sources[name]
        out.setdefault((name, ""), TableRead(name, _table(source), "", ""))
        checked = parse_filter(text)[0] if text else None
        derived = [parse_filter(d.expr.sql)[0] for d in source.derived]
        for flt in (checked, *derived):
            for reference in filter_references(flt, source):
                path = graph.resolve(name, reference)
                if not isinstance(path, JoinPath):
                    continue
                for depth, edge in enumerate(path.edges, start=1):
                    target = sources[edge.target]
                    scd = (f", as of {source.time.name}" if target.valid_from is not None
                           and source.time is not None else "")
                    route = JoinPath(path.edges[:depth], edge.key).route.rsplit(" (", 1)[0]
                    out.setdefault((edge.target, route), TableRead(
                        edge.target, _table(target), route,
                        f"{edge.source}.{edge.key} = {edge.target}.{edge.key}{scd}"))
    return list(out.values())


def _table(source: ir.Source) -> str:
    return ".".join(source.table) if source.table else "(query)"


def segment_timing(source: ir.Source, joins: Joins | None,
                   segments: Sequence[str]) -> tuple[list[str], list[str]]:
    """Which segments are pre-exposure (read on each unit's first exposure row: the
    assignment's own columns, slowly changing dimensions as of the exposure, joined tables'
    time columns) and which are current values a treatment may have changed (dimensions of
    tables without validity columns). A derived segment is pre-exposure when all it reads is.
    """
    def fixed(reference: str) -> bool:
        joined = next((j for j in joins.columns if j.reference == reference), None) if joins \
            else None
        if joined is None:
            return True
        target = joins.tables[joined.path.target] if joins else None
        return target is not None and (target.valid_from is not None or (
            target.time is not None and target.time.name == joined.path.column))

    before: list[str] = []
    current: list[str] = []
    for segment in segments:
        own = _derived(source, segment)
        references = ([segment] if own is None else
                      filter_references(parse_filter(own.expr.sql)[0], source))
        (before if all(fixed(r) for r in references) else current).append(segment)
    return before, current
