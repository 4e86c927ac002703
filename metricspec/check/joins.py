"""Joins: the entity graph and every reference that reads a dimension of another table.

- a cycle of many-to-one edges (MS305) and a join key whose declared types differ at its
  two ends (MS432), at the foreign key's declaration; a warning (MS434) when only one end
  declares the key's type, since the mismatch cannot then be seen;
- a slowly changing dimension reached from a source without a time column (MS433);
- a derived dimension's expression: inside the closed filter grammar, over its own source's
  columns and the dimensions it reaches;
- each reference to a dimension of another table — in a metric's filter, a derived
  dimension, an experiment's assignment filter and segments, a monitor's slices — must lead
  along exactly one many-to-one path: an ambiguous one (MS430), one through a one-to-many
  or many-to-many join (MS431) or none (MS206) is reported at the reference, with the
  paths found and how to choose one.
"""

from __future__ import annotations

from collections.abc import Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.check.filters import check_filter, joined, span_in
from metricspec.diagnostics import Diagnostic, error, warning
from metricspec.entity_graph import EntityGraph, JoinPath, JoinProblem
from metricspec.filters import parse_filter


def rule_entity_graph(ctx: Context) -> Iterator[Diagnostic]:
    """The graph itself: cycles, key types, slowly changing dimensions without a time."""
    graph = ctx.graph
    for cycle in graph.cycles():
        route = " -> ".join([cycle[0].source, *(e.target for e in cycle)])
        last = cycle[-1]
        yield error("MS305", f"the entity graph has a cycle: {route}",
                    _entity(ctx, last.source, last.key).span,
                    f"a key that points back is a plain column: declare `{last.key}` of "
                    f"`{last.source}` as `column`, not `entity`")
    for name in sorted(graph.edges):
        for edge in graph.edges[name]:
            ours, theirs = _entity(ctx, name, edge.key), _entity(ctx, edge.target, edge.key)
            if ours.type and theirs.type and ours.type != theirs.type:
                yield error("MS432", f"`{name}.{edge.key}` is {ours.type} but the key it "
                            f"joins, `{edge.target}.{edge.key}`, is {theirs.type}",
                            ours.type_span or ours.span,
                            "declare the same type at both ends (cast in a source query "
                            "if the warehouse stores them differently)")
            elif bool(ours.type) != bool(theirs.type):
                yield _untyped_key(name, edge.target, edge.key, ours, theirs)
    for source in ctx.index.sources.values():
        if source.time is not None:
            continue
        for path in _first_paths(graph, source.name):
            scd = ctx.index.sources[path.target]
            if scd.valid_from is not None:
                yield error("MS433", f"`{source.name}` reaches the slowly changing dimension "
                            f"`{scd.name}`, but has no time column to join it as of",
                            source.span, f"declare `time` in `{source.name}`")


def rule_join_references(ctx: Context) -> Iterator[Diagnostic]:
    """Every reference to another table's dimension leads along one many-to-one path."""
    graph = ctx.graph
    for metric in ctx.project.metrics:
        for node in ctx.walk(metric.expr):
            if isinstance(node, ir.Aggregate) and node.filter:
                source = ctx.index.sources.get(node.source.name)
                if source is not None:
                    yield from filter_references(graph, node.filter, source)
            elif isinstance(node, ir.Conversion):  # each end's events, joined on their own
                for events in (node.start, node.end):
                    source = ctx.index.sources.get(events.source.name)
                    if events.filter and source is not None:
                        yield from filter_references(graph, events.filter, source)
    for source in ctx.index.sources.values():
        for derived in source.derived:
            yield from check_filter(derived.expr, source, graph)
            yield from filter_references(graph, derived.expr, source)
            yield from _derived_on_derived(derived, source)
    for experiment in ctx.project.experiments:
        assignment = experiment.assignment
        if assignment is None or assignment.source.name not in ctx.index.sources:
            continue
        if assignment.filter:
            yield from filter_references(graph, assignment.filter,
                                         ctx.index.sources[assignment.source.name])
        for segment in experiment.segments:
            resolved = graph.resolve(assignment.source.name, segment.name)
            if isinstance(resolved, JoinProblem) and resolved.code != "MS206":
                yield _problem(resolved, segment.span)
    for monitor in ctx.project.monitors:
        if (not monitor.metric or monitor.metric.name not in ctx.index.metrics
                or monitor.metric.name in ctx.too_deep):
            continue
        converts = any(isinstance(node, ir.Conversion) for node in ctx.walk(
            ctx.expand(ctx.index.metrics[monitor.metric.name].expr)))
        for dim in monitor.dimensions:
            found = [graph.resolve(name, dim.name)  # unknown ones: check.names
                     for name in ctx.index.sources_of(monitor.metric.name)
                     if name in ctx.index.sources]
            problems = [r for r in found if isinstance(r, JoinProblem) and r.code != "MS206"]
            yield from (_problem(r, dim.span) for r in problems)
            if converts and not problems and any(isinstance(r, JoinPath) for r in found):
                # what plan.joins.joined_dimension refuses: said here, at the slice
                yield error("MS405", f"`{dim.name}` is read through a join, which conversion "
                            f"metrics (`{monitor.metric.name}`) do not support yet", dim.span,
                            "slice the monitor by a dimension of the metric's own sources")


def filter_references(graph: EntityGraph, flt: ir.Filter,
                      source: ir.Source) -> Iterator[Diagnostic]:
    """The references of one filter that leave its source, each resolved."""
    checked, _ = parse_filter(flt.sql)
    if checked is None:
        return
    for ref in checked.references:
        if joined(graph, source, ref.table, ref.name):
            reference = f"{ref.table}.{ref.name}" if ref.table else ref.name
            resolved = graph.resolve(source.name, reference)
            if isinstance(resolved, JoinProblem):
                yield _problem(resolved, span_in(flt, ref.start, ref.end))


def _derived_on_derived(derived: ir.DerivedDimension, source: ir.Source
                        ) -> Iterator[Diagnostic]:
    checked, _ = parse_filter(derived.expr.sql)
    others = {d.name for d in source.derived}
    for ref in checked.references if checked else ():
        if ref.table is None and ref.name in others:
            yield error("MS405", f"derived dimension `{derived.name}` reads the derived "
                        f"dimension `{ref.name}`", span_in(derived.expr, ref.start, ref.end),
                        "write the expression over the source's columns")


def _untyped_key(source: str, target: str, key: str, ours: ir.Column,
                 theirs: ir.Column) -> Diagnostic:
    """MS434: one end of a join declares the key's type, the other does not, so MS432
    cannot compare them; the warning sits at the end without a type."""
    if theirs.type:
        typed, bare, bare_column = target, source, ours
    else:
        typed, bare, bare_column = source, target, theirs
    known = theirs.type or ours.type
    return warning("MS434", f"`{bare}.{key}` declares no type, so its join with "
                   f"`{typed}.{key}` ({known}) cannot be checked for a type mismatch",
                   bare_column.span, f"declare it: `entity {key}: {known}` (or the type the "
                   "warehouse stores)")


def _problem(problem: JoinProblem, span: ir.Span) -> Diagnostic:
    return error(problem.code, problem.message, span, problem.hint)


def _entity(ctx: Context, source: str, key: str) -> ir.Column:
    found = next(e for e in ctx.index.sources[source].entities if e.name == key)
    return found


def _first_paths(graph: EntityGraph, source: str) -> list[JoinPath]:
    seen: dict[tuple[object, ...], JoinPath] = {}
    for path in graph.paths(source):
        seen.setdefault(path.edges, path)
    return list(seen.values())
