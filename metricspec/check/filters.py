"""Filters: the check rule for `where` conditions.

`metricspec.filters` parses each filter once into a `CheckedFilter` rebuilt from a closed
grammar (columns, literals, operators, a closed list of functions, types and date parts);
this rule turns its problems into diagnostics at their place in the spec file and checks
that every column it reads belongs to the filtered source.
"""

from __future__ import annotations

from collections.abc import Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, did_you_mean, error
from metricspec.entity_graph import EntityGraph, joins_to
from metricspec.filters import parse_filter


def check_filter(flt: ir.Filter, source: ir.Source | None,
                 graph: EntityGraph | None = None) -> list[Diagnostic]:
    """All problems with one filter against its source. With the entity graph, references
    to other tables' dimensions are left to `check.joins`."""
    checked, problems = parse_filter(flt.sql)
    out = [error(p.code, p.message, span_in(flt, p.start, p.end), p.hint) for p in problems]
    if checked is None or source is None:
        return out
    known = [c.name for c in source.all_columns()] + [d.name for d in source.derived]
    for ref in checked.references:
        span = span_in(flt, ref.start, ref.end)
        if graph is not None and joined(graph, source, ref.table, ref.name):
            continue
        if ref.table and ref.table != source.name:
            out.append(_elsewhere(ref.table, ref.name, source, graph, span))
        elif source.typed and ref.name not in known:
            hint = did_you_mean(ref.name, known) or (
                f"SQL text goes in single quotes: '{ref.name}'" if ref.quoted else None)
            out.append(error("MS405", f"unknown column `{ref.name}` in source "
                             f"`{source.name}`", span, hint))
    return out


def _elsewhere(table: str, name: str, source: ir.Source, graph: EntityGraph | None,
               span: ir.Span) -> Diagnostic:
    """MS405 for `table.name` where `table` is neither the source nor a table it joins to:
    the name nearest `table` among those, else what a filter may read."""
    tables = sorted({e.target for p in graph.paths(source.name) for e in p.edges}
                    if graph is not None else ())
    where = " or of a table it joins to" if tables else ""
    named = ", ".join(f"`{t}`" for t in tables[:5]) + (", …" if len(tables) > 5 else "")
    hint = did_you_mean(table, [source.name, *tables]) or (
        f"a filter may use the columns of `{source.name}` and the dimensions of the tables "
        f"it joins to ({named})" if tables else
        f"a filter may only use columns of `{source.name}` (it joins to no table)")
    return error("MS405", f"`{table}.{name}` is not a column of `{source.name}`{where}", span,
                 hint)


def joined(graph: EntityGraph, source: ir.Source, table: str | None, name: str) -> bool:
    """Whether a filter's reference is one `check.joins` judges: qualified by another
    name, or a name the source lacks that leads somewhere through a join."""
    if table is not None:
        return table != source.name and (
            joins_to(graph, source.name, f"{table}.{name}") or table in graph.names(source.name))
    if not source.typed or source.column(name) is not None:
        return False
    return joins_to(graph, source.name, name)


def span_in(flt: ir.Filter, start: int, end: int) -> ir.Span:
    """The span of characters [start, end) of a filter's text."""
    line, column = _line_col(flt, start)
    end_line, end_column = _line_col(flt, max(start + 1, end) - 1)
    return ir.Span(file=flt.span.file, line=line, column=column, end_line=end_line,
                   end_column=end_column + 1)


def _line_col(flt: ir.Filter, offset: int) -> tuple[int, int]:
    """The file position of the filter's character at `offset`."""
    if flt.layout_spans:
        seen = 0
        for run in flt.layout_spans:
            length = run.end_column - run.column
            if offset < seen + length:
                return run.line, run.column + offset - seen
            seen += length
        last = flt.layout_spans[-1]
        return last.line, last.end_column + offset - seen
    before = flt.sql[:offset]
    newlines = before.count("\n")
    if newlines == 0:
        return flt.span.line, flt.span.column + offset
    return flt.span.line + newlines, offset - before.rfind("\n")


def rule_filters(ctx: Context) -> Iterator[Diagnostic]:
    """Check every filter in the project against the source it filters."""
    index, graph = ctx.index, ctx.graph
    for metric in index.project.metrics:
        for node in ctx.walk(metric.expr):
            if isinstance(node, ir.Aggregate) and node.filter:
                yield from check_filter(node.filter, index.sources.get(node.source.name),
                                        graph)
            elif isinstance(node, ir.Conversion):
                for events in (node.start, node.end):
                    if events.filter:
                        yield from check_filter(events.filter,
                                                index.sources.get(events.source.name), graph)
    for experiment in index.project.experiments:
        assignment = experiment.assignment
        if assignment and assignment.filter:  # joined dimensions: check.joins
            yield from check_filter(assignment.filter, index.sources.get(assignment.source.name),
                                    graph)
