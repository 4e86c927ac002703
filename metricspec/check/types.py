"""Type rules: aggregations against declared column types, quantiles, weights, windows,
ratios across sources and metric metadata (MS401–MS413)."""

from __future__ import annotations

from collections.abc import Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, did_you_mean, error, warning

COLUMN_TYPES = ("string", "integer", "number", "boolean", "timestamp", "date")
NUMERIC = ("integer", "number")
FORMATS = ("number", "percent", "currency", "duration", "integer")
DIRECTIONS = ("up", "down", "none")
# Aggregations whose values over a longer window follow from those over shorter ones.
ROLLABLE = ("count", "sum", "avg", "min", "max")


def rule_column_types(ctx: Context) -> Iterator[Diagnostic]:
    for source in ctx.project.sources:
        for column in source.all_columns():
            if column.type is not None and column.type not in COLUMN_TYPES:
                hint = did_you_mean(column.type, COLUMN_TYPES) or (
                    "use number" if column.type in ("float", "double", "decimal", "numeric")
                    else "use integer" if column.type in ("int", "bigint") else
                    f"known types: {', '.join(COLUMN_TYPES)}")
                yield error("MS412", f"unknown column type `{column.type}`",
                            column.type_span or column.span, hint)


def rule_aggregations(ctx: Context) -> Iterator[Diagnostic]:
    for metric in ctx.project.metrics:
        for node in ctx.walk(metric.expr):
            if isinstance(node, ir.Aggregate):
                yield from _aggregate(ctx, node)
            elif isinstance(node, ir.BinaryOp) and node.op == "/" and isinstance(
                    node.right, ir.Number) and node.right.value == 0:
                yield error("MS411", "division by zero", node.right.span)


def _aggregate(ctx: Context, node: ir.Aggregate) -> Iterator[Diagnostic]:
    if node.func == "quantile" and node.quantile is not None and not 0 < node.quantile < 1:
        yield error("MS402", f"quantile {node.quantile:g} is outside (0, 1)", node.span,
                    "write a quantile as a fraction: 0.95, or use p95(…)")
    if node.column is None:
        if node.func != "count":
            yield error("MS401", f"`{_spelling(node)}` needs a column: "
                        f"`{_spelling(node)}({node.source.name}.<column>)`", node.span)
        return
    source = ctx.index.sources.get(node.source.name)
    column = source.column(node.column.name) if source else None
    if column is None or column.type not in COLUMN_TYPES:
        return  # an undeclared type cannot be judged; an unknown one is MS412
    if node.func in ("sum", "avg", "quantile") and column.type not in NUMERIC:
        hint = (f"count the rows instead: `count({node.source.name} where {column.name})`"
                if column.type == "boolean" else "aggregate a numeric column")
        yield error("MS401", f"cannot take `{_spelling(node)}` of {column.type} column "
                    f"`{column.name}`", node.column.span, hint)


def _spelling(node: ir.Aggregate) -> str:
    if node.func == "quantile":
        return "quantile"
    return node.func


def rule_weights(ctx: Context) -> Iterator[Diagnostic]:
    for metric in ctx.project.metrics:
        for node in ctx.walk(metric.expr):
            if not isinstance(node, ir.Weighted):
                continue
            negative = [t for t in node.terms if t.weight < 0]
            for term in negative:
                yield error("MS408", f"weight {term.weight:g} is negative", term.span,
                            "to penalise a metric, weight `1 - metric` instead")
            total = sum(t.weight for t in node.terms)
            if not negative and abs(total - 1.0) > 1e-9:
                yield warning("MS408", f"weights sum to {total:g}, not 1", node.span,
                              "the index is then not on the scale of its terms")


def rule_ratio_entities(ctx: Context) -> Iterator[Diagnostic]:
    """A metric combining aggregates of several sources needs an entity they all share."""
    for metric in ctx.project.metrics:
        names: dict[str, None] = {}
        for node in ctx.walk(metric.expr):
            if isinstance(node, ir.Aggregate):
                names.setdefault(node.source.name)
        sources = [ctx.index.sources[n] for n in names if n in ctx.index.sources]
        if len(sources) < 2 or any(not s.entities for s in sources):
            continue
        shared = set.intersection(*({e.name for e in s.entities} for s in sources))
        if not shared:
            listed = ", ".join(f"`{s.name}`" for s in sources)
            yield error("MS409", f"metric `{metric.name}` combines {listed}, which share no "
                        "entity", metric.expr.span,
                        "declare the common key (e.g. `entity user_id`) on each source")


def rule_windows(ctx: Context) -> Iterator[Diagnostic]:
    """MS410: a window rolls something that follows from shorter periods, and holds no other
    window; windows may sit inside arithmetic (`dau / mau`, see `plan.offsets`)."""
    for metric in ctx.project.metrics:
        if metric.name in ctx.too_deep:
            continue
        expanded = ctx.expand(metric.expr)
        for top in [n for n in ctx.walk(expanded) if isinstance(n, ir.Window)]:
            if any(isinstance(n, ir.Window) for n in ctx.walk(top.expr)):
                yield error("MS410", "a rolling or cumulative window cannot hold another "
                            "window", _window_span(ctx, metric, top),
                            "roll up the metric the inner window rolls up")
                break
            yield from _rollable(metric, top)


def _window_span(ctx: Context, metric: ir.Metric, window: ir.Window) -> ir.Span:
    """Where a window is written: in the metric, or at the reference that brings it in."""
    if any(n is window for n in ctx.walk(metric.expr)):
        return window.span
    where = next((r for r in ir.metric_refs(metric.expr)
                  if r.name in ctx.index.metrics and any(
                      isinstance(n, ir.Window) for n in ctx.walk(
                          ctx.expand(ctx.index.metrics[r.name].expr)))), None)
    return where.span if where else metric.expr.span


def _rollable(metric: ir.Metric, top: ir.Window) -> Iterator[Diagnostic]:
    for node in ir.walk(top.expr):
        if isinstance(node, ir.Aggregate) and node.func not in ROLLABLE and not (
                node.func == "count_distinct" and top.mode == "rolling"):  # emit.spine
            yield error("MS410", f"`{_spelling(node)}` cannot be rolled over a window: "
                        "it does not follow from the values of shorter periods",
                        metric.expr.span, "roll up an additive metric (count, sum, a "
                        "ratio of them) instead")
            return
        if isinstance(node, ir.Conversion):
            yield error("MS410", "a conversion cannot be rolled over a window",
                        metric.expr.span)
            return


def rule_metadata(ctx: Context) -> Iterator[Diagnostic]:
    for metric in ctx.project.metrics:
        if metric.format is not None and metric.format not in FORMATS:
            yield error("MS413", f"unknown format `{metric.format}`",
                        metric.setting_span("format"),
                        did_you_mean(metric.format, FORMATS) or f"use one of {', '.join(FORMATS)}")
        if metric.direction is not None and metric.direction not in DIRECTIONS:
            yield error("MS413", f"unknown direction `{metric.direction}`",
                        metric.setting_span("direction"),
                        did_you_mean(metric.direction, DIRECTIONS) or "use up, down or none")
        if metric.baseline and metric.baseline.sd is not None and metric.baseline.sd <= 0:
            yield error("MS413", "a baseline standard deviation must be positive",
                        metric.baseline.span)
