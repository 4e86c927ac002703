"""Rules for offsets (period over period) and windows inside expressions (`plan.offsets`).

- MS450: an offset or growth reads a time series: not a constant, and not in an experiment
  (whose metrics are one value per unit over the window, with no earlier period);
- MS451: an offset is a whole number of periods: metrics are compiled by day, so an offset
  in minutes or hours is a whole number of days;
- MS452: no offset of an offset, and no window over an offset (an offset inside a window);
- MS454: a monitor or guardrail watches a metric without offsets (a monitor compares a
  window with the same window earlier by `baseline offset 1 week`).

A monitor's `baseline offset D` is whole windows (MS451) under a rule that compares with one
earlier window (MS454 for a z-score). MS453 (an offset's length: unit, positive whole
number) is the front ends'.
"""

from __future__ import annotations

from collections.abc import Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, error
from metricspec.semantic import experiment_metric_refs

DAY = 86_400


def _offsets(expr: ir.Expr) -> list[ir.Offset]:
    return [n for n in ir.walk(expr) if isinstance(n, ir.Offset)]


def rule_offsets(ctx: Context) -> Iterator[Diagnostic]:
    """MS450 (an offset of a constant), MS451 (whole days), MS452 (nesting), where written."""
    for metric in ctx.project.metrics:
        for node in _offsets(metric.expr):
            name = f"{node.mode}(…, {node.length})"
            inner = ctx.expand(node.expr)
            if not any(isinstance(n, (ir.Aggregate, ir.Conversion, ir.MetricRef))
                       for n in ctx.walk(inner)):  # (a reference left: MS201/MS301 say why)
                yield error("MS450", f"`{name}` shifts a constant, which has no earlier "
                            "period", node.span, "offset a metric that aggregates a source")
            if node.seconds is not None and node.seconds % DAY:
                yield error("MS451", f"an offset of {node.length} is not a whole number of "
                            "days: metrics are compiled by day", node.span,
                            f"use a whole number of days, e.g. {max(1, node.seconds // DAY)} "
                            "days, or watch the metric in a monitor with `baseline offset`")
        if metric.name in ctx.too_deep:
            continue
        expanded = ctx.expand(metric.expr)
        for outer in ctx.walk(expanded):
            if not isinstance(outer, (ir.Offset, ir.Window)) or not _offsets(outer.expr):
                continue
            what = ("an offset of an offset" if isinstance(outer, ir.Offset) else
                    f"a {outer.mode} window over an offset")
            yield error("MS452", f"`{metric.name}` computes {what}, which metricspec does "
                        "not support", _where(metric, outer),
                        "offset by the total length at once, e.g. offset(m, 2 weeks)"
                        if isinstance(outer, ir.Offset) else
                        "offset the windowed metric instead: offset(rolling(m, 7 days), …)")
            break


def _where(metric: ir.Metric, node: ir.Expr) -> ir.Span:
    """The node's span when the metric writes it, else the metric's expression's."""
    return node.span if any(n is node for n in ir.walk(metric.expr)) else metric.expr.span


def rule_offset_uses(ctx: Context) -> Iterator[Diagnostic]:
    """MS450 for experiment metrics with offsets, MS454 for watched ones."""
    for experiment in ctx.project.experiments:
        for _, ref in experiment_metric_refs(experiment):
            if _has_offset(ctx, ref.name):
                yield error("MS450", f"`{ref.name}` has an offset, which needs a time series: "
                            "an experiment has one value per unit over its window", ref.span,
                            "analyse the metric without the offset")
    watched = [m.metric for m in ctx.project.monitors if m.metric is not None]
    watched += [g.metric for g in ctx.project.guardrails]
    for ref in watched:
        if _has_offset(ctx, ref.name):
            yield error("MS454", f"`{ref.name}` has an offset: a monitor watches a metric "
                        "per window and compares it with its own baseline", ref.span,
                        "watch the metric itself with `baseline offset 1 week`")


def rule_monitor_offsets(ctx: Context) -> Iterator[Diagnostic]:
    """A monitor's `baseline offset D`: whole windows (MS451), and a rule it can judge:
    a z-score needs the spread of many windows, which one earlier window has not (MS454)."""
    for monitor in ctx.project.monitors:
        offset, every, rule = monitor.baseline_offset, monitor.every, monitor.alert
        if offset is None:
            continue
        if monitor.baseline is not None:  # the DSL and YAML keep one `baseline` (MS108)
            continue  # pragma: no cover
        if rule is not None and rule.kind.startswith("zscore"):
            yield error("MS454", "a z-score needs the spread of a trailing baseline, not one "
                        f"window {offset.length} earlier", rule.span,
                        "write `alert when below baseline by 15%`, or `baseline trailing 1 day`")
        if every is None:
            continue
        whole = (offset.seconds % every.seconds == 0 if offset.seconds is not None
                 else 86_400 % every.seconds == 0)
        if not whole:
            yield error("MS451", f"an offset of {offset.length} is not a whole number of "
                        f"{every} windows", offset.span,
                        "offset by whole windows; calendar offsets (months, quarters, years) "
                        "need windows of a day or less")


def _has_offset(ctx: Context, name: str) -> bool:
    metric = ctx.index.metrics.get(name)
    if metric is None or name in ctx.too_deep:
        return False
    return bool(_offsets(ctx.expand(metric.expr)))
