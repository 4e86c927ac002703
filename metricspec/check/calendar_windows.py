"""Calendar durations (MS448): months, quarters and years are lengths of rolling windows
only. A conversion's `within`, a monitor's `every` and `baseline`, a guardrail's `every` and
an experiment's `cuped` are counted in seconds, which a month does not have.

A to-date metric's period (MS447, unknown name) is judged where it is read; whether a
calendar window fits a query's grain (MS449, MS460, MS461) is judged with the request,
since the grain is the query's (`plan.calendar.check_calendar_window`)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any, Literal, get_args, get_origin

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


def _durations(node: object) -> list[ir.Duration]:
    """Calendar durations anywhere in `node`, except the length of a window, in the order
    they are written (a walk with a stack: every object of the project passes through
    here, so spans and scalars are skipped without a call)."""
    found: list[ir.Duration] = []
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ir.Duration):
            if item.unit in CALENDAR_UNITS:
                found.append(item)
        elif isinstance(item, ir.Window):
            stack.append(item.expr)
        elif isinstance(item, BaseModel):
            if not isinstance(item, ir.Span):
                values = item.__dict__
                stack.extend(values[name] for name in reversed(_fields(type(item))))
        elif isinstance(item, (tuple, list)):
            stack.extend(reversed(item))
    return found


@cache
def _fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of `model` that may hold a node other than a span (the rest — names,
    numbers, spans — cannot hold a duration)."""
    return tuple(name for name, info in model.model_fields.items()
                 if _may_hold_node(info.annotation))


def _may_hold_node(annotation: object) -> bool:
    if annotation is Any or annotation is object:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, BaseModel) and annotation is not ir.Span
    args = get_args(annotation)
    if annotation is Ellipsis or get_origin(annotation) is Literal:
        return False
    # an annotation this does not understand (a forward reference, `Any`) is walked
    return any(_may_hold_node(arg) for arg in args) if args else annotation is not None
