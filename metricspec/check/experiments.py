"""Experiment rules (MS501–MS515): a design that can be analysed as declared."""

from __future__ import annotations

from collections.abc import Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, did_you_mean, error, warning
from metricspec.semantic import experiment_metric_refs

CORRECTIONS = ("none", "bonferroni", "holm", "bh")


def control_variant(exp: ir.Experiment) -> ir.Variant | None:
    """The variant marked `control`, or the one named `control` if none is marked."""
    marked = [v for v in exp.variants if v.is_control]
    if len(marked) == 1:
        return marked[0]
    if not marked:
        named = [v for v in exp.variants if v.name == "control"]
        return named[0] if len(named) == 1 else None
    return None


def rule_experiments(ctx: Context) -> Iterator[Diagnostic]:
    for exp in ctx.project.experiments:
        yield from _required(exp)
        yield from _variants(exp)
        yield from _settings(exp)
        yield from _units(ctx, exp)
        yield from _metrics(ctx, exp)


def _required(exp: ir.Experiment) -> Iterator[Diagnostic]:
    missing = [("unit", exp.unit, "unit user_id"),
               ("assignment", exp.assignment, "assignment assignments variant variant"),
               ("window", exp.window, "window 2026-11-01 .. 2026-11-14")]
    for name, value, example in missing:
        if value is None:
            yield error("MS513", f"experiment `{exp.name}` has no `{name}`", exp.span,
                        f"add e.g. `{example}`")
    if not exp.primary:
        yield error("MS504", f"experiment `{exp.name}` has no primary metric", exp.span,
                    "add `primary <metric>`: the metric the decision rests on")


def _variants(exp: ir.Experiment) -> Iterator[Diagnostic]:
    if not exp.variants:
        yield error("MS509", f"experiment `{exp.name}` declares no variants", exp.span,
                    "add e.g. `variants control 50% control, treatment 50%`")
        return
    seen: set[str] = set()
    for variant in exp.variants:
        if variant.name in seen:
            yield error("MS509", f"variant `{variant.name}` is declared twice", variant.span)
        seen.add(variant.name)
        if variant.weight.fraction <= 0:
            yield error("MS509", f"variant `{variant.name}` has no traffic", variant.weight.span)
    if len(exp.variants) < 2:
        yield error("MS509", "an experiment needs at least two variants", exp.variants[0].span)
    total = sum(v.weight.fraction for v in exp.variants)
    if abs(total - 1.0) > 1e-9:
        shown = f"{total * 100:g}%"
        yield error("MS501", f"the variants' split sums to {shown}, not 100%",
                    exp.variants[-1].weight.span, "make the shares add up to 100%")
    marked = [v for v in exp.variants if v.is_control]
    if len(marked) > 1:
        yield error("MS502", "more than one variant is marked `control`", marked[1].span)
    elif control_variant(exp) is None:
        yield error("MS502", f"experiment `{exp.name}` has no control variant",
                    exp.variants[0].span, f"mark it: `{exp.variants[0].name} "
                    f"{exp.variants[0].weight} control`")


def _settings(exp: ir.Experiment) -> Iterator[Diagnostic]:
    if exp.window and exp.window.start >= exp.window.end_exclusive:
        yield error("MS506", "the analysis window starts after it ends", exp.window.span,
                    "write `window <start> .. <end>` with start before end")
    if not 0 < exp.alpha < 0.5:
        yield error("MS507", f"alpha {exp.alpha:g} is outside (0, 0.5)",
                    exp.setting_span("alpha"),
                    "the usual choice is `alpha 0.05`")
    if not 0 < exp.srm_alpha < 0.5:
        yield error("MS507", f"srm_alpha {exp.srm_alpha:g} is outside (0, 0.5)",
                    exp.setting_span("srm_alpha"), "the usual choice is `srm_alpha 0.001`")
    if not 0 < exp.power < 1:
        yield error("MS508", f"power {exp.power:g} is outside (0, 1)",
                    exp.setting_span("power"),
                    "the usual choice is `power 0.8`")
    if exp.mde is not None and exp.mde.amount.fraction <= 0:
        yield error("MS511", "the minimum detectable effect must be positive", exp.mde.span)
    elif exp.mde is not None and exp.mde.relative and exp.mde.amount.fraction >= 1:
        yield warning("MS511", "a relative MDE of 100% or more is unusually large",
                      exp.mde.span)
    if exp.correction not in CORRECTIONS:
        yield error("MS514", f"unknown correction `{exp.correction}`",
                    exp.setting_span("correction"),
                    did_you_mean(exp.correction, CORRECTIONS)
                    or f"use one of {', '.join(CORRECTIONS)}")
    if exp.sequential and exp.sequential.looks is not None and exp.sequential.looks < 1:
        yield error("MS514", "sequential analysis needs at least one look", exp.sequential.span)
    for w in exp.winsorize:
        if not 0.5 < w.fraction < 1:
            yield error("MS514", f"winsorize at {w.percentile}: the percentile must be "
                        "between 50% and 100%", w.percentile.span, "e.g. `at 99%`")
    if exp.traffic and exp.traffic.per not in ("day", "week"):
        yield error("MS514", f"traffic is counted per day or per week, not per "
                    f"`{exp.traffic.per}`", exp.traffic.span)


def _units(ctx: Context, exp: ir.Experiment) -> Iterator[Diagnostic]:
    if exp.unit is None:
        return
    unit = exp.unit.name
    if exp.assignment and exp.assignment.source.name in ctx.index.sources:
        source = ctx.index.sources[exp.assignment.source.name]
        entities = [e.name for e in source.entities]
        if unit not in entities:
            yield error("MS503", f"the unit `{unit}` is not an entity of the assignment "
                        f"source `{source.name}`", exp.unit.span,
                        did_you_mean(unit, entities)
                        or f"its entities: {', '.join(entities) or 'none declared'}")
    reported: set[str] = set()
    for _, ref in experiment_metric_refs(exp):
        if ref.name not in ctx.index.metrics:
            continue
        for name in ctx.index.sources_of(ref.name):
            read = ctx.index.sources.get(name)
            if read is None or name in reported:
                continue
            if unit not in {e.name for e in read.entities}:
                reported.add(name)
                yield error("MS503", f"metric `{ref.name}` reads source `{name}`, which has no "
                            f"entity `{unit}`", ref.span,
                            f"declare `entity {unit}` in `{name}` or analyse another metric")


def _metrics(ctx: Context, exp: ir.Experiment) -> Iterator[Diagnostic]:
    seen: dict[str, str] = {}
    for role, ref in experiment_metric_refs(exp):
        if ref.name in seen:
            yield error("MS512", f"`{ref.name}` is already a {seen[ref.name]} metric of this "
                        "experiment", ref.span, "give each metric one role")
        seen.setdefault(ref.name, role)
        metric = ctx.index.metrics.get(ref.name)
        if metric is None:
            continue
        problem = analysable(ctx, metric)
        if problem:
            yield error("MS510", f"`{ref.name}` cannot be analysed in an experiment: {problem}",
                        ref.span)
    for guardrail in exp.guardrails:
        yield from _margin(ctx, guardrail)


def analysable(ctx: Context, metric: ir.Metric) -> str | None:
    """Why a metric cannot be an experiment metric, or None if it can."""
    if metric.name in ctx.too_deep:
        return None  # MS304 says why
    expanded = ctx.expand(metric.expr)
    nodes = ctx.walk(expanded)
    if any(isinstance(n, ir.Window) for n in nodes):
        return "rolling and cumulative windows have no per-unit value"
    for node in nodes:
        if isinstance(node, ir.Aggregate) and node.func in ("min", "max"):
            return f"`{node.func}` has no per-unit mean to compare"
        if isinstance(node, ir.Aggregate) and node.func == "quantile" and node is not expanded:
            return "a percentile can be compared on its own, not inside arithmetic"
    if isinstance(expanded, ir.Number) or not any(
            isinstance(n, (ir.Aggregate, ir.Conversion)) for n in nodes):
        return "it is a constant"
    return None


def _margin(ctx: Context, guardrail: ir.ExperimentGuardrail) -> Iterator[Diagnostic]:
    metric = ctx.index.metrics.get(guardrail.metric.name)
    if guardrail.margin is None:
        yield error("MS505", f"guardrail `{guardrail.metric.name}` has no margin",
                    guardrail.span, "add one, e.g. `max_increase 10%` or `max_decrease 0.5pp`")
        return
    margin = guardrail.margin
    if margin.amount.fraction <= 0:
        yield error("MS505", "a guardrail margin must be positive", margin.amount.span)
    direction = metric.direction if metric else None
    if margin.kind == "margin" and direction not in ("up", "down"):
        yield error("MS515", f"`margin` needs the direction of `{guardrail.metric.name}`",
                    margin.span, "declare `direction up|down` on the metric, or write "
                    "`max_increase`/`max_decrease`")
    elif (margin.kind, direction) in (("max_increase", "up"), ("max_decrease", "down")):
        good = "an increase" if direction == "up" else "a decrease"
        yield warning("MS515", f"`{margin.kind}` guards against {good} of "
                      f"`{guardrail.metric.name}`, which its direction says is good",
                      margin.span, "did you mean the opposite margin?")
