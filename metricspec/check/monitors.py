"""Monitor and guardrail rules (MS601–MS607): a series that can be bucketed, a baseline made
of whole windows, an alert rule that can fire, and a metric that can be watched."""

from __future__ import annotations

from collections.abc import Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, error

# Buckets must tile the next larger unit so every warehouse can compute them the same way.
_DIVISORS = {"minute": 60, "hour": 24, "day": 1, "week": 1}


def grain_problem(grain: ir.Duration) -> str | None:
    """Why a grain cannot be used for buckets, or None.

    >>> grain_problem(ir.Duration(span=ir.Span.unknown(), value=7, unit="minute"))
    '7 minutes does not divide an hour evenly'
    """
    limit = _DIVISORS.get(grain.unit)
    if limit is None or limit % grain.value == 0:  # calendar units: MS448
        return None
    if grain.unit in ("day", "week"):
        return f"{grain} is not supported; use 1 {grain.unit}"
    larger = "an hour" if grain.unit == "minute" else "a day"
    return f"{grain} does not divide {larger} evenly"


def rule_monitors(ctx: Context) -> Iterator[Diagnostic]:
    for monitor in ctx.project.monitors:
        for name, value, example in (("metric", monitor.metric, "metric csat"),
                                     ("every", monitor.every, "every 5 minutes"),
                                     ("alert", monitor.alert, "alert when below baseline by 15%")):
            if value is None:
                yield error("MS604", f"monitor `{monitor.name}` has no `{name}`", monitor.span,
                            f"add e.g. `{example}`")
        if monitor.every is not None:
            problem = grain_problem(monitor.every)
            if problem:
                yield error("MS606", problem, monitor.every.span,
                            "use e.g. 5, 10, 15 or 30 minutes, or 1, 2, 3, 4, 6, 8 or 12 hours")
        yield from _baseline(monitor)
        yield from _alert(monitor)
        if monitor.min_n is not None and monitor.min_n < 1:
            yield error("MS603", "min_n must be at least 1", monitor.setting_span("min_n"),
                        "e.g. `min_n 200`: windows with fewer events are insufficient data "
                        "and never alert; without `min_n` the minimum is 100")
        if monitor.metric is not None:
            yield from _time_columns(ctx, monitor.metric)
            yield from _watchable(ctx, monitor.metric)


def _baseline(monitor: ir.Monitor) -> Iterator[Diagnostic]:
    rule, every, baseline = monitor.alert, monitor.every, monitor.baseline
    needs = rule is not None and rule.kind in ("below_baseline", "above_baseline",
                                               "zscore_below", "zscore_above")
    if needs and baseline is None and monitor.baseline_offset is None:  # (check.periods)
        yield error("MS604", f"monitor `{monitor.name}` compares against a baseline but "
                    "declares none", rule.span if rule else monitor.span,
                    "add e.g. `baseline trailing 1 hour`")
    if baseline is None or every is None:
        return
    if baseline.seconds <= every.seconds or baseline.seconds % every.seconds:
        yield error("MS601", f"a baseline of {baseline} is not a whole number (≥ 2) of "
                    f"{every} windows", baseline.span,
                    f"use a multiple of {every}, e.g. {every.value * 12} {every.unit}s")


def _alert(monitor: ir.Monitor) -> Iterator[Diagnostic]:
    rule = monitor.alert
    if rule is None:
        return
    value = rule.threshold.fraction
    if rule.kind == "below_baseline" and not 0 < value < 1:
        yield error("MS602", f"a drop of {rule.threshold} below the baseline can never happen "
                    "(or always does)", rule.threshold.span, "use a share between 0% and 100%")
    elif rule.kind == "above_baseline" and value <= 0:
        yield error("MS602", "a rise above the baseline must be positive", rule.threshold.span)
    elif rule.kind.startswith("zscore") and value == 0:
        yield error("MS602", "a z-score threshold of 0 fires on every window",
                    rule.threshold.span, "use e.g. `zscore below -3`")
    if rule.consecutive < 1:
        yield error("MS602", "`for N windows` needs N ≥ 1", rule.span)


def _time_columns(ctx: Context, ref: ir.Ref) -> Iterator[Diagnostic]:
    if ref.name not in ctx.index.metrics:
        return
    for name in ctx.index.sources_of(ref.name):
        source = ctx.index.sources.get(name)
        if source is not None and source.time is None:
            yield error("MS605", f"`{ref.name}` reads `{name}`, which has no time column, so "
                        "it has no series to watch", ref.span,
                        f"declare `time <column>` in source `{name}`")


def _watchable(ctx: Context, ref: ir.Ref) -> Iterator[Diagnostic]:
    """A watched metric is one value per window, with events behind it to count (`min_n`)."""
    metric = ctx.index.metrics.get(ref.name)
    if metric is None or ref.name in ctx.too_deep:
        return
    expanded = ctx.expand(metric.expr)
    nodes = ctx.walk(expanded)
    if any(isinstance(n, ir.Window) for n in nodes):
        yield error("MS607", f"`{ref.name}` is a rolling or cumulative metric: each window of "
                    "a monitor would already span many windows", ref.span,
                    "watch the metric it rolls up, with a trailing baseline")
    elif not any(isinstance(n, ir.Aggregate) for n in nodes):
        yield error("MS607", f"`{ref.name}` aggregates no source column, so a window has no "
                    "events to count", ref.span,
                    "watch a metric built on count(…), sum(…) or another aggregation")


def rule_guardrails(ctx: Context) -> Iterator[Diagnostic]:
    for guardrail in ctx.project.guardrails:
        if guardrail.every is not None:
            problem = grain_problem(guardrail.every)
            if problem:
                yield error("MS606", problem, guardrail.every.span)
        yield from _time_columns(ctx, guardrail.metric)
        yield from _watchable(ctx, guardrail.metric)
