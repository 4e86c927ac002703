"""Source rules: what a source reads must be something every stage after `check` can use.

- MS415: a `query` source is exactly one read-only query — a `SELECT` (with `WITH`, set
  operations and subqueries) — judged by a closed list of node types allowed at the top and
  as the body of every CTE and subquery, never by a list of known writes. It is parsed as
  the SQL of every backend: a query that is not read-only for any of them is an error; one
  that some backends cannot parse is MS702 (a warning naming them, or an error for a
  backend chosen with `--dialect`).
- MS416: a `table` path is `[catalog.][schema.]table`, with no empty part.
- MS516: an experiment's assignment source has a time column (exposures are ordered by it).

The judgment itself lives in `metricspec.source_queries`, which the emitter reads too (it
embeds the query parsed there).
"""

from __future__ import annotations

from collections.abc import Iterator

from metricspec import ir
from metricspec.backends import Backend, all_backends
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, error, warning
from metricspec.source_queries import UNPARSED, source_query_problem

MAX_TABLE_PARTS = 3  # catalog.schema.table


def rule_sources(ctx: Context) -> Iterator[Diagnostic]:
    chosen = {b.name for b in ctx.backends}
    for source in ctx.project.sources:
        if source.table is not None:
            yield from _table(source.name, source.table, source.span)
        if source.query is not None:
            yield from _query(source.name, source.query, source.span, chosen)


def rule_assignment_time(ctx: Context) -> Iterator[Diagnostic]:
    for exp_ in ctx.project.experiments:
        if exp_.assignment is None:
            continue
        source = ctx.index.sources.get(exp_.assignment.source.name)
        if source is not None and source.time is None:
            yield error("MS516", f"the assignment source `{source.name}` has no time column, so "
                        "exposures cannot be ordered or bounded by the window",
                        exp_.assignment.source.span,
                        f"declare `time <column>` (the exposure time) in source `{source.name}`")


def _table(name: str, table: tuple[str, ...], span: ir.Span) -> Iterator[Diagnostic]:
    shown = ".".join(table)
    if not table or not all(part.strip() for part in table):
        yield error("MS416", f"the table of source `{name}` has an empty part: `{shown}`",
                    span,
                    "write it as [catalog.][schema.]table")
    elif len(table) > MAX_TABLE_PARTS:
        yield error("MS416", f"the table of source `{name}` has {len(table)} parts: `{shown}`",
                    span,
                    "write it as [catalog.][schema.]table (at most three parts)")


def _query(name: str, query: str, span: ir.Span, chosen: set[str]) -> Iterator[Diagnostic]:
    unparsed: list[Backend] = []
    parsed = 0
    for backend in all_backends().values():
        problem = source_query_problem(query, backend.sqlglot_dialect)
        if problem is None:
            parsed += 1
        elif problem == UNPARSED:
            unparsed.append(backend)
        else:
            yield error("MS415", f"the query of source `{name}` {problem}",
                        span,
                        "make a view of it in the warehouse and read that with `table`"
                        if problem.startswith("calls") else
                        "a source query is one SELECT (optionally with WITH) that reads")
            return
    if not parsed:
        yield error("MS415", f"the query of source `{name}` does not parse as SQL",
                    span,
                    "a source query is one SELECT (optionally with WITH) that reads")
        return
    if unparsed:
        failing = [b for b in unparsed if b.name in chosen]
        others = [b for b in unparsed if b.name not in chosen]
        if failing:
            yield error("MS702", f"the query of source `{name}` does not parse as "
                        f"{_titles(failing)} SQL", span,
                        "write it in SQL that warehouse reads")
        if others and not chosen:
            yield warning("MS702", f"the query of source `{name}` does not parse as "
                          f"{_titles(others)} SQL: it cannot be compiled for "
                          f"{'it' if len(others) == 1 else 'them'}",
                          span)


def _titles(backends: list[Backend]) -> str:
    return ", ".join(b.title for b in backends)
