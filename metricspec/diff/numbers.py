"""Numbers before merging: the old and the new definition of each metric whose meaning
changed, run over the same time range, in one query per source.

Both sides are put into one project — every metric of BASE named `base_<name>` and every
metric of HEAD `head_<name>`; a source both sides define alike is shared, one that differs
keeps its HEAD name and BASE's copy is named `base_<name>` — and the metrics are planned
as a metric query (`plan.metric_query`), so identical aggregates become one measure and
each source is scanned once, with the old and the new measures as columns of the same
aggregate (`emit.range_sql`). Metrics whose sources overlap share a statement; every
other group has its own. A window (rolling, cumulative) or a conversion has no single value
over a range: such a metric is listed with the reason, not computed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from metricspec import ir
from metricspec.diff.compare import SpecDiff
from metricspec.emit.range_sql import range_sql
from metricspec.emit.render import render_sql
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.hashing import definition
from metricspec.plan.lower import InternalError, PlanError
from metricspec.plan.metric_query import Grain, MetricQueryPlan, plan_metric_query
from metricspec.report import fmt
from metricspec.run.connections import Connection
from metricspec.run.execute import backend_of, execute, preflight, preflight_columns, rows_of
from metricspec.semantic import Index


@dataclass(frozen=True)
class MetricNumbers:
    """One changed metric's value under each definition (None: no value, or not computed)."""

    name: str  # in HEAD
    base_name: str  # in BASE (another name when it was renamed)
    label: str
    base: float | None = None
    head: float | None = None
    base_text: str = "–"
    head_text: str = "–"
    change: str = "–"
    note: str = ""  # why it was not computed
    statement: int | None = None  # which statement computed it


@dataclass(frozen=True)
class Statement:
    sources: tuple[str, ...]
    sql: str


@dataclass(frozen=True)
class Numbers:
    since: dt.datetime
    until: dt.datetime
    metrics: tuple[MetricNumbers, ...]
    statements: tuple[Statement, ...]

    @property
    def range(self) -> str:
        return f"{_when(self.since)} → {_when(self.until)} (exclusive)"


def _when(value: dt.datetime) -> str:
    return f"{value:%Y-%m-%d}" if value.time() == dt.time() else f"{value:%Y-%m-%d %H:%M}"


def changed_pairs(diff: SpecDiff) -> list[tuple[str, str]]:
    """(BASE name, HEAD name) of every metric whose meaning changed, renames included."""
    pairs = [(c.name, c.name) for c in diff.changed
             if c.kind == "metric" and c.change != "metadata"]
    pairs += [(e.name, e.renamed) for e in diff.removed if e.kind == "metric" and e.renamed]
    return pairs


def _prefix(word: str, taken: set[str]) -> str:
    prefix = f"{word}_"
    while any(name.startswith(prefix) for name in taken):
        prefix = f"{prefix[:-1]}x_"
    return prefix


def _renamed(metric: ir.Metric, metrics: Callable[[str], str], sources: dict[str, str]
             ) -> ir.Metric:
    def source(ref: ir.Ref) -> ir.Ref:
        return ref.model_copy(update={"name": sources.get(ref.name, ref.name)})

    def go(expr: ir.Expr) -> ir.Expr:
        if isinstance(expr, ir.MetricRef):
            return expr.model_copy(update={"name": metrics(expr.name)})
        if isinstance(expr, ir.Aggregate):
            return expr.model_copy(update={"source": source(expr.source)})
        if isinstance(expr, ir.Conversion):
            return expr.model_copy(update={
                "start": expr.start.model_copy(update={"source": source(expr.start.source)}),
                "end": expr.end.model_copy(update={"source": source(expr.end.source)})})
        return ir.replace(expr, go)

    return metric.model_copy(update={"name": metrics(metric.name), "expr": go(metric.expr)})


def combined(base: Index, head: Index) -> tuple[Index, str, str]:
    """One project holding both sides' metrics (see the module docstring); the prefixes of
    BASE's and HEAD's metric names in it."""
    taken = {*base.metrics, *head.metrics, *base.sources, *head.sources}
    old, new = _prefix("base", taken), _prefix("head", taken)
    sources = dict(head.sources)
    base_sources: dict[str, str] = {}
    for name, src in base.sources.items():
        if name in head.sources and definition(src) == definition(head.sources[name]):
            base_sources[name] = name
        else:
            base_sources[name] = old + name
            sources[old + name] = src.model_copy(update={"name": old + name})
    metrics = [_renamed(m, lambda n: old + n, base_sources) for m in base.metrics.values()]
    metrics += [_renamed(m, lambda n: new + n, {}) for m in head.metrics.values()]
    # HEAD's calendar: the range (--since/--until) is read in its zone
    project = ir.Project(span=ir.Span.unknown(), sources=tuple(sources.values()),
                         metrics=tuple(metrics), calendars=head.project.calendars[:1])
    return Index(project), old, new


def _plan(index: Index, names: list[str], since: dt.datetime, until: dt.datetime
          ) -> MetricQueryPlan:
    plan = plan_metric_query(index, names, grain=Grain("day"), start=since, end=until,
                             title="metric numbers")
    if plan.series is not None or any(m.window for m in plan.metrics):
        raise PlanError("a rolling or cumulative window or an offset has no single value "
                        "over a range")
    if plan.conversions:
        raise PlanError("a conversion is not computed over a range here")
    if any(m.semi for s in plan.scans for m in s.measures):  # emit.semi_sql: per period
        raise PlanError("a semi-additive balance is not computed over a range here")
    return plan


def _groups(sources: dict[int, set[str]]) -> list[list[int]]:
    """Pairs grouped so that pairs sharing a source share a statement (connected sets)."""
    groups: list[tuple[set[str], list[int]]] = []
    for pair, used in sources.items():
        joined = [g for g in groups if g[0] & used or (not used and not g[0])]
        merged: tuple[set[str], list[int]] = (set(used), [pair])
        for group in joined:
            merged[0].update(group[0])
            merged[1].extend(group[1])
            groups.remove(group)
        groups.append(merged)
    return [sorted(g[1]) for g in groups]


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value) if isinstance(value, (int, float, Decimal)) else None
    return number if number is not None and math.isfinite(number) else None


def _texts(metric: ir.Metric, base: float | None, head: float | None
           ) -> tuple[str, str, str]:
    shown = (fmt.value(base, metric.format, metric.unit),
             fmt.value(head, metric.format, metric.unit))
    if base is None or head is None:
        return (*shown, "–")
    change = fmt.delta(head - base, metric.format, metric.unit)
    if base != 0:
        change += f", {fmt.lift((head - base) / abs(base))}"
    return (*shown, change)


def warehouse_numbers(diff: SpecDiff, base: Index, head: Index, conn: Connection,
                      since: dt.datetime, until: dt.datetime) -> Numbers:
    """Run both definitions of every changed metric over [since, until). Raises
    `run.execute.RunError` when the warehouse cannot read a source."""
    index, old, new = combined(base, head)
    backend = backend_of(conn)
    pairs = changed_pairs(diff)
    found: dict[int, MetricNumbers] = {}
    used: dict[int, set[str]] = {}
    for number, (before, after) in enumerate(pairs):
        label = head.metrics[after].label or after
        try:
            used[number] = set(_plan(index, [old + before, new + after], since, until).sources)
        except (PlanError, InternalError) as exc:
            found[number] = MetricNumbers(after, before, label, note=str(exc))
    statements: list[Statement] = []
    for group in _groups(used):
        names = [n for p in group for n in (old + pairs[p][0], new + pairs[p][1])]
        plan = _plan(index, names, since, until)
        text = render_sql(range_sql(plan, SqlBuilder(backend)), backend,
                          kind="metric numbers", name=", ".join(pairs[p][1] for p in group),
                          files=())
        what = "the numbers of " + ", ".join(f"`{pairs[p][1]}`" for p in group)
        preflight(conn, backend, what, preflight_columns(plan))
        rows = rows_of(execute(conn, text, what, (s.name for s in plan.sources.values())))
        row = rows[0] if rows else {}
        statements.append(Statement(tuple(sorted(plan.sources)), text))
        for p in group:
            before, after = pairs[p]
            b = _number(row.get((old + before).lower()))
            h = _number(row.get((new + after).lower()))
            metric = head.metrics[after]
            found[p] = MetricNumbers(after, before, metric.label or after, b, h,
                                     *_texts(metric, b, h), statement=len(statements) - 1)
    return Numbers(since, until, tuple(found[n] for n in sorted(found)), tuple(statements))
