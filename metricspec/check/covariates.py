"""Regression-adjustment covariates of experiments (MS520): `covariates pre(metric),
unit.column` — each a per-unit number the treatment cannot have changed."""

from __future__ import annotations

from collections.abc import Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, did_you_mean, error, warning

NUMERIC = ("integer", "number")


def rule_covariates(ctx: Context) -> Iterator[Diagnostic]:
    for exp in ctx.project.experiments:
        seen: set[tuple[str, str]] = set()
        for cov in exp.covariates:
            key = (cov.kind, cov.ref.name)
            if key in seen:
                yield error("MS520", "this covariate is listed twice", cov.span,
                            "list each covariate once")
                continue
            seen.add(key)
            if cov.kind == "pre":
                yield from _pre(ctx, exp, cov)
            else:
                yield from _unit(ctx, exp, cov)
        if exp.covariates and not any(_count_or_sum(ctx, ref.name)
                                      for ref in (*exp.primary, *exp.secondary)):
            yield warning("MS520", "no primary or secondary metric is one count or sum per "
                          "unit: the covariates adjust nothing", exp.covariates[0].span,
                          "regression adjustment applies to means and proportions; ratios "
                          "use `cuped`")


def _count_or_sum(ctx: Context, name: str) -> bool:
    metric = ctx.index.metrics.get(name)
    if metric is None:
        return False
    return ir.shape(ctx.expand(metric.expr)) == "simple"


def _pre(ctx: Context, exp: ir.Experiment, cov: ir.Covariate) -> Iterator[Diagnostic]:
    name = cov.ref.name
    metric = ctx.index.metrics.get(name)
    if metric is None:
        yield error("MS520", f"unknown metric `{name}` in `pre(…)`", cov.ref.span,
                    did_you_mean(name, sorted(ctx.index.metrics)) or "name a metric")
        return
    if exp.cuped is None:
        yield error("MS520", f"`pre({name})` needs a pre-period", cov.span,
                    "declare it with `cuped 14 days` (the period before the window)")
    expr = ctx.expand(metric.expr)
    if ir.shape(expr) != "simple" or not isinstance(expr, ir.Aggregate):
        yield error("MS520", f"`pre({name})`: a covariate is one count or sum per unit, and "
                    f"`{name}` is not", cov.ref.span,
                    "use a metric such as `count(feedback)` or `sum(orders.amount)`")
        return
    source = ctx.index.sources.get(expr.source.name)
    unit = exp.unit.name if exp.unit else None
    if source is not None and unit and unit not in {e.name for e in source.entities}:
        yield error("MS520", f"`pre({name})` reads source `{source.name}`, which has no "
                    f"entity `{unit}`", cov.ref.span, f"declare `entity {unit}` in it")
    if source is not None and source.time is None:
        yield error("MS520", f"`pre({name})` reads source `{source.name}`, which has no time "
                    "column to find the pre-period", cov.ref.span, "declare `time <column>`")


def _unit(ctx: Context, exp: ir.Experiment, cov: ir.Covariate) -> Iterator[Diagnostic]:
    if exp.assignment is None:
        return
    source = ctx.index.sources.get(exp.assignment.source.name)
    if source is None:
        return
    name = cov.ref.name
    column = source.column(name)
    if column is None:
        names = [c.name for c in source.all_columns()]
        yield error("MS520", f"the assignment source `{source.name}` has no column `{name}`",
                    cov.ref.span, did_you_mean(name, names)
                    or f"declare `column {name}: number` in `{source.name}`")
        return
    if column.type not in NUMERIC:
        yield error("MS520", f"covariate `unit.{name}` is a {column.type or 'untyped'} "
                    "column; a covariate must be a number", cov.ref.span,
                    f"declare it `column {name}: number` or use another column")
