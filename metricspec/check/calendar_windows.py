"""Calendar durations (MS448): months, quarters and years are lengths of rolling windows
only. A conversion's `within`, a monitor's `every` and `baseline`, a guardrail's `every` and
an experiment's `cuped` are counted in seconds, which a month does not have.

A to-date metric's period (MS447, unknown name) is judged where it is read; whether a
calendar window fits a query's grain (MS449, MS460, MS461) is judged with the request,
since the grain is the query's (`plan.calendar.check_calendar_window`)."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, error

CALENDAR_UNITS = ("month", "quarter", "year", "fiscal_quarter", "fiscal_year")


def rule_calendar_durations(ctx: Context) -> Iterator[Diagnostic]:
    project = ctx.project
    for group in (project.metrics, project.experiments, project.monitors, project.guardrails):
        for obj in group:
            for duration in _durations(obj):
                yield error("MS448", f"a duration in {duration.unit}s is the length of a "
                            "rolling window only: it has no fixed number of seconds",
                            duration.span, "write it in days or weeks, e.g. `28 days`")


def _durations(node: object) -> Iterator[ir.Duration]:
    """Calendar durations anywhere in `node`, except the length of a window."""
    if isinstance(node, ir.Duration):
        if node.unit in CALENDAR_UNITS:
            yield node
        return
    if isinstance(node, ir.Window):
        yield from _durations(node.expr)
        return
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _durations(getattr(node, name))
    elif isinstance(node, (tuple, list)):
        for item in node:
            yield from _durations(item)
