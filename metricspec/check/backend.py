"""Backend rules (MS7xx): what a chosen warehouse computes only approximately or cannot
express, reported at the spec location when `check --dialect D` is given.

They read the backend's validated definition (`metricspec.backends`): a construct a backend
file says its warehouse lacks is an error here, so the emitter never writes SQL for it.
"""

from __future__ import annotations

from collections.abc import Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, error, warning


def rule_backends(ctx: Context) -> Iterator[Diagnostic]:
    for backend in ctx.backends:
        percentile = backend.capabilities.percentile
        if percentile == "exact":
            continue
        for metric in ctx.project.metrics:
            for node in ctx.walk(metric.expr):
                if not (isinstance(node, ir.Aggregate) and node.func == "quantile"):
                    continue
                if percentile == "approximate":
                    yield warning(
                        "MS701", f"{backend.title} has no exact aggregate percentile: "
                        f"`{metric.name}` is computed approximately there in metric and "
                        "monitor queries", node.span,
                        "experiment analyses still use an exact rank-based percentile")
                else:
                    yield error(
                        "MS703", f"{backend.title} has no aggregate percentile: `{metric.name}` "
                        f"cannot be computed there in metric and monitor queries", node.span,
                        f"compile for another warehouse, or spell it in {backend.file} "
                        "([spellings] approx_percentile) with `percentile = \"approximate\"`")
