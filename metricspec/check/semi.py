"""Aggregate options (MS455–MS459): approximate distinct counts and semi-additive measures.

- MS455: `count_distinct(x, approximate)` for a warehouse whose backend file spells no
  approximate distinct count (`[spellings] approx_count_distinct`): an error for a chosen
  `--dialect`, else a warning naming those warehouses (they are left out when compiling).
- MS456: an option that does not fit its aggregate: `approximate` on anything but a
  distinct count; `first`/`last` on a distinct count or a percentile (their value over
  snapshot rows is not a balance). (A source without a time column is MS605.)
- MS457: `per` names something that is not an entity of the aggregated source.
- MS458: a rolling or cumulative window over a semi-additive measure (a sum of balances
  over several periods counts the same tickets again).
- MS459: an experiment analyses, or adjusts by, a semi-additive or approximate metric
  (per-unit values are exact sums over the unit's events).

Semantics: docs/language.md, "Time".
"""

from __future__ import annotations

from collections.abc import Iterator

from metricspec import ir
from metricspec.backends import all_backends
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, error, warning

#: Aggregates a semi-additive option may take.
SEMI_FUNCS = ("count", "sum", "avg", "min", "max")


def _option_users(metric: ir.Metric) -> list[ir.Aggregate]:
    """The metric's own aggregates (not those of metrics it refers to) with an option."""
    return [n for n in ir.walk(metric.expr) if isinstance(n, ir.Aggregate)
            and (n.approximate or n.semi is not None)]


def rule_aggregate_options(ctx: Context) -> Iterator[Diagnostic]:
    for metric in ctx.project.metrics:
        for node in _option_users(metric):
            if node.approximate and node.func != "count_distinct":
                yield error("MS456", f"`approximate` applies to `count_distinct`, not to "
                            f"`{node.func}`", node.span,
                            "remove `approximate`: every other aggregate is exact")
            if node.semi is None:
                continue
            if node.func not in SEMI_FUNCS:
                yield error("MS456", f"`{node.semi.choice}` (a semi-additive measure) takes "
                            f"sum, count, avg, min or max, not `{node.func}`", node.semi.span,
                            "a balance is a sum (or mean) of each entity's latest snapshot")
                continue
            source = ctx.index.sources.get(node.source.name)
            if source is None:
                continue  # MS2xx reports the unknown source
            entities = [e.name for e in source.entities]
            for ref in node.semi.per:
                if ref.name not in entities:
                    yield error("MS457", f"`per {ref.name}`: `{ref.name}` is not an entity of "
                                f"source `{source.name}`", ref.span,
                                _one_of(entities) if entities else
                                f"declare it on `{source.name}`: `entity {ref.name}`")


def _semi(ctx: Context, expr: ir.Expr) -> ir.Aggregate | None:
    return next((n for n in ctx.walk(ctx.expand(expr))
                 if isinstance(n, ir.Aggregate) and n.semi is not None), None)


def rule_semi_windows(ctx: Context) -> Iterator[Diagnostic]:
    for metric in ctx.project.metrics:
        if metric.name in ctx.too_deep:
            continue
        for window in ctx.walk(ctx.expand(metric.expr)):
            if isinstance(window, ir.Window) and _semi(ctx, window.expr) is not None:
                yield error("MS458", f"`{metric.name}` takes a {window.mode} window over a "
                            "semi-additive measure: balances of several periods do not add up",
                            metric.expr.span, "query the balance at a coarser grain instead "
                            "(its last snapshot in the week or month)")
                break


def rule_experiment_options(ctx: Context) -> Iterator[Diagnostic]:
    for experiment in ctx.project.experiments:
        refs = [*experiment.primary, *experiment.secondary,
                *(g.metric for g in experiment.guardrails),
                *(c.ref for c in experiment.covariates if c.kind == "pre")]
        for ref in refs:
            metric = ctx.index.metrics.get(ref.name)
            if metric is None or ref.name in ctx.too_deep:
                continue
            nodes = [n for n in ctx.walk(ctx.expand(metric.expr))
                     if isinstance(n, ir.Aggregate) and (n.approximate or n.semi)]
            if nodes:
                what = "semi-additive" if nodes[0].semi else "approximate"
                yield error("MS459", f"experiment `{experiment.name}` cannot analyse `{ref.name}`"
                            f": it is {what}, and an experiment needs each unit's exact sum",
                            ref.span, "analyse an exact, additive metric (a count or sum of "
                            "events per unit)")


def rule_approximate_backends(ctx: Context) -> Iterator[Diagnostic]:
    chosen = {b.name for b in ctx.backends}
    lacking = [b for b in all_backends().values() if b.spellings.approx_count_distinct is None]
    if not lacking:
        return
    for metric in ctx.project.metrics:
        for node in ctx.walk(metric.expr):
            if not (isinstance(node, ir.Aggregate) and node.approximate
                    and node.func == "count_distinct"):
                continue
            failing = [b for b in lacking if b.name in chosen]
            for backend in failing:
                yield error("MS455", f"{backend.title} has no approximate distinct count: "
                            f"`{metric.name}` cannot be computed there", node.span,
                            "remove `approximate` (an exact distinct count works everywhere), "
                            f"or spell it in {backend.file} ([spellings] "
                            "approx_count_distinct)")
            if not chosen:
                titles = ", ".join(b.title for b in lacking)
                yield warning("MS455", f"{titles} {'has' if len(lacking) == 1 else 'have'} no "
                              f"approximate distinct count: `{metric.name}` cannot be compiled "
                              f"for {'it' if len(lacking) == 1 else 'them'}", node.span)


def _one_of(names: list[str]) -> str:
    return "use one of " + ", ".join(f"`{n}`" for n in names)
