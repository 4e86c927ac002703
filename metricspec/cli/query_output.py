"""`metricspec query`'s conveniences: the `--where` filter shown with a caret when it is
wrong, and the rows as a table, CSV (the csv module) or JSON (deterministic: columns in
query order, rows in the query's order, times in ISO form, numbers as the warehouse gave
them)."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from metricspec.cli.common import err, out

if TYPE_CHECKING:
    from metricspec.plan.metric_query import MetricQueryPlan
    from metricspec.semantic import Index


class QueryFormat(StrEnum):
    table = "table"
    text = "text"  # the same as table (the other commands' name for it)
    csv = "csv"
    json = "json"


def with_where(plan: MetricQueryPlan, text: str | None,
               subject: str | None = None) -> MetricQueryPlan:
    """The plan restricted by `--where`; exit 2 with each problem under the option's text."""
    from metricspec.plan.where import WhereError, restrict

    if text is None:
        return plan
    try:
        return restrict(plan, text, subject)
    except WhereError as exc:
        where_errors(exc)


def monitor_with_where(plan: Any, text: str | None) -> Any:
    """A monitor's (or guardrail's) plan with its series restricted by `--where`."""
    import dataclasses

    return plan if text is None else dataclasses.replace(
        plan, series=with_where(plan.series, text, f"`{plan.metric}`"))


def where_errors(exc: Any) -> NoReturn:
    from metricspec.diagnostics import SourceCache, error, render_text
    from metricspec.ir.base import Span

    cache = SourceCache({"--where": exc.text})
    for problem in exc.problems:
        before = exc.text[:problem.start]
        line = before.count("\n") + 1
        column = problem.start - (before.rfind("\n") + 1) + 1
        span = Span.point("--where", line, column, max(1, problem.end - problem.start))
        shown = render_text(error(problem.code, problem.message, span, problem.hint), cache,
                            err.width)
        err.print(shown, markup=False, highlight=False)
    raise typer.Exit(2)


def _plain(value: Any, exact: bool = False) -> Any:
    """A value as JSON (and, `exact`, CSV) shows it: times in ISO form; decimals as JSON
    numbers, or their exact digits in CSV."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value) if exact else float(value)
    return value


def emit_rows(rows: list[dict[str, Any]], columns: list[str], fmt: QueryFormat,
              index: Index, metrics: list[str]) -> None:
    """Print the rows of a metric query in the format asked for; which metrics are
    approximate or semi-additive is said below a table, and on stderr for JSON and CSV
    (their stdout stays the data alone)."""
    notes = value_notes(index, metrics)
    if fmt is QueryFormat.json:
        payload = [{c: _plain(row[c]) for c in columns} for row in rows]
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        for note in notes:
            err.print(f"note: {note}", markup=False, highlight=False)
        return
    if fmt is QueryFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row[c] is None else _plain(row[c], exact=True)
                             for c in columns])
        for note in notes:
            err.print(f"note: {note}", markup=False, highlight=False)
        return
    from metricspec.report import fmt as number
    from metricspec.report.terminal import plain

    definitions = index.metrics
    dates = all(_midnight(row.get("period")) for row in rows)  # day grain or coarser
    cells = {c: [number.value(row[c], definitions[c].format, definitions[c].unit)
                 if c in definitions else
                 row[c].date().isoformat() if c == "period" and dates and row[c] is not None
                 else str(row[c]) for row in rows] for c in columns}
    for i, group in enumerate(column_groups(columns, metrics, cells, out.width)):
        if i:
            out.print()
        out.print(_table(group, metrics, cells))
    for note in notes:
        out.print(plain(note, "dim"))


def column_groups(columns: list[str], metrics: list[str], cells: dict[str, list[str]],
                  width: int) -> list[list[str]]:
    """The columns of one table per group that fits ``width`` in full: the period and
    dimension columns in every group, the metric columns shared out in order (a value or a
    date cut short is worse than a second table)."""
    from rich.cells import cell_len

    from metricspec.safetext import printable

    def needs(column: str) -> int:  # the longest cell, plus two of padding and a rule
        return max(cell_len(printable(text)) for text in (column, *cells[column])) + 3

    keys = [c for c in columns if c not in metrics]
    room = width - 1 - sum(needs(c) for c in keys)
    groups: list[list[str]] = []
    used = room
    for column in (c for c in columns if c in metrics):
        if not groups or used + needs(column) > room:
            groups.append([])
            used = 0
        groups[-1].append(column)
        used += needs(column)
    return [[c for c in columns if c in keys or c in group] for group in groups or [[]]]


def _table(columns: list[str], metrics: list[str], cells: dict[str, list[str]]) -> Any:
    """A rich table of these columns; keys never wrap, a metric's header folds only when
    it alone is wider than the terminal."""
    from rich.table import Table

    from metricspec.report.terminal import plain

    table = Table(header_style="bold")
    for column in columns:
        table.add_column(plain(column), justify="right" if column in metrics else "left",
                         no_wrap=column not in metrics, overflow="fold")
    for i in range(len(next(iter(cells.values()), []))):
        table.add_row(*[plain(cells[c][i]) for c in columns])
    return table


def _midnight(value: Any) -> bool:
    """Whether a period is shown as its date: a midnight (or none: a period without rows)."""
    return value is None or (isinstance(value, dt.datetime) and value.time() == dt.time())


#: What each `ir.qualifiers` word means for a value in a query's output.
_MEANINGS = {"approximate": "approximate (HyperLogLog distinct-count estimate)",
             "semi-additive": "semi-additive (each entity's last or first snapshot in the "
                              "period; no value where none was taken)"}


def value_notes(index: Index, metrics: list[str]) -> list[str]:
    """`approximate (…): users_approx, wau_approx`: one line per qualifier that applies."""
    from metricspec import ir

    named: dict[str, list[str]] = {}
    for name in metrics:
        if name in index.metrics:
            for word in ir.qualifiers(index.expand(index.metrics[name].expr)):
                named.setdefault(word, []).append(name)
    return [f"{_MEANINGS[word]}: {', '.join(names)}" for word, names in named.items()]
