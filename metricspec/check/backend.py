"""Backend rules (MS7xx): what a chosen warehouse computes only approximately or cannot
express, reported at the spec location when `check --dialect D` is given."""

from __future__ import annotations

from collections.abc import Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, warning


def rule_backends(ctx: Context) -> Iterator[Diagnostic]:
    for backend in ctx.backends:
        if backend.capabilities.percentile == "exact":
            continue
        for metric in ctx.project.metrics:
            for node in ir.walk(metric.expr):
                if isinstance(node, ir.Aggregate) and node.func == "quantile":
                    yield warning(
                        "MS701", f"{backend.title} has no exact aggregate percentile: "
                        f"`{metric.name}` is computed approximately there in metric and "
                        "monitor queries", node.span,
                        "experiment analyses still use an exact rank-based percentile")
