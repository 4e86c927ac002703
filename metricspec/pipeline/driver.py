"""Compile one object: plan it (through its kind's planner), emit its sqlglot tree, render
the text. Every caller that needs SQL — the command line, the notebook API, `run`, the docs
site — comes through here, so an object is planned once per compilation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot.errors import SqlglotError

from metricspec.backends import Backend
from metricspec.emit.monitor_series_sql import monitor_series_sql
from metricspec.emit.monitor_sql import monitor_coverage_sql
from metricspec.emit.render import render_sql
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.outputs import file_name
from metricspec.pipeline.kinds import KINDS, Kind, Plan, Request, plan_metrics
from metricspec.plan.lower import PlanError
from metricspec.plan.metric_query import Grain
from metricspec.plan.monitor import MonitorPlan
from metricspec.semantic import Index


class CompileError(ValueError):
    """An object that cannot be compiled for a backend, with the reason.

    `request` is True when the request (grain, dimensions, time range) is what cannot be
    answered, rather than the object: the command line exits 2 for those.
    """

    def __init__(self, kind: str, name: str, backend: str, reason: str,
                 request: bool = False) -> None:
        super().__init__(f"cannot compile {kind} `{name}` for {backend}: {reason}")
        self.kind, self.name, self.backend, self.reason = kind, name, backend, reason
        self.request = request

    def __reduce__(self) -> tuple[type[CompileError], tuple[str, str, str, str, bool]]:
        # forked compile workers send failures back pickled
        return (CompileError, (self.kind, self.name, self.backend, self.reason, self.request))


@dataclass(frozen=True)
class Compiled:
    """One object compiled for one backend: its plan (what `run` preflights and `analyze`
    reads), its SQL text and the notes in the text's header."""

    kind: Kind
    name: str
    backend: Backend
    plan: Plan
    sql: str
    notes: tuple[str, ...] = ()
    #: the compile cache's key of the query (`pipeline.cached`), when compiled with a cache
    key: str = field(default="", compare=False)

    @property
    def parts(self) -> tuple[str, str, str]:
        """The file's path under the output folder, one safe file name per part."""
        return (file_name(self.backend.name), KINDS[self.kind].folder,
                file_name(self.name, ".sql"))

    @property
    def path(self) -> str:
        return "/".join(self.parts)


def object_kind(index: Index, name: str) -> Kind | None:
    """What a name refers to among compilable objects."""
    found = index.find(name)
    return found[0] if found else None  # type: ignore[return-value]


def compile(index: Index, name: str, backend: Backend,
            request: Request | None = None) -> Compiled:
    """Compile one object by name; raises `CompileError` with the reason when it cannot."""
    kind = object_kind(index, name)
    if kind is None:
        raise CompileError("object", name, backend.name,
                           "no metric, experiment, monitor, guardrail or KPI tree has this name")
    return compile_kind(kind, index, name, backend, request or Request())


def compile_kind(kind: Kind, index: Index, name: str, backend: Backend,
                 request: Request | None = None) -> Compiled:
    """Compile an object of a known kind (`metrics`: a source group of `metric_groups`)."""
    return _guard(kind, name, backend, lambda: plan_kind(kind, index, name, request))


def compile_object(index: Index, name: str, backend: Backend, *, grain: Grain | None = None,
                   dimensions: tuple[str, ...] = (), start: dt.datetime | None = None,
                   end: dt.datetime | None = None) -> Compiled:
    """`compile` with the request as keywords (the notebook's and the tests' spelling)."""
    return compile(index, name, backend, Request(grain, dimensions, start, end))


def compile_metrics(index: Index, names: list[str], backend: Backend,
                    request: Request | None = None, *, title: str | None = None) -> Compiled:
    """Several metrics by period (and dimensions) in one query."""
    asked = request or Request()
    return _guard("metrics", title or ", ".join(names), backend,
                  lambda: plan_metrics(index, names, asked, title))


def plan_kind(kind: Kind, index: Index, name: str, request: Request | None = None) -> Plan:
    """Plan an object of a known kind, for no backend in particular (plans are dialect-free):
    a caller may plan a request before it knows the warehouse, then `compile_plan` it.
    Raises `PlanError` when the specs cannot answer the request."""
    planned: Plan = KINDS[kind].plan(index, name, request or Request())
    return planned


def compile_plan(kind: Kind, name: str, plan: Plan, backend: Backend,
                 label: str | None = None) -> Compiled:
    """Emit and render a plan made elsewhere (by `plan_kind`, or an experiment over a history
    window); `label` renames the object's kind in the SQL header. Raises `CompileError`."""
    return _guard(kind, name, backend, lambda: plan, label)


def _emit(kind: Kind, name: str, plan: Plan, backend: Backend, label: str | None) -> Compiled:
    entry = KINDS[kind]
    notes = tuple(entry.notes(plan, backend))
    tree = entry.emit(plan, SqlBuilder(backend))
    text = render_sql(tree, backend, kind=label or entry.label, name=name, files=plan.files,
                      notes=notes)
    return Compiled(kind, name, backend, plan, text, notes)


def coverage_sql(compiled: Compiled) -> str:
    """For a compiled monitor or guardrail: the one-row query counting the windows of its
    range and those with enough data to be judged."""
    plan = compiled.plan
    if not isinstance(plan, MonitorPlan):
        raise TypeError(f"{compiled.kind} `{compiled.name}` is not a monitor or guardrail")
    return render_sql(monitor_coverage_sql(plan, SqlBuilder(compiled.backend)),
                      compiled.backend, kind=f"{compiled.kind} coverage", name=compiled.name,
                      files=plan.files)


def series_sql(compiled: Compiled) -> str:
    """For a compiled monitor or guardrail: every window of its range with its value, sample
    size, baseline, alert limit and whether it is in alert (the windows in alert are exactly
    the rows of `compiled.sql`)."""
    plan = compiled.plan
    if not isinstance(plan, MonitorPlan):
        raise TypeError(f"{compiled.kind} `{compiled.name}` is not a monitor or guardrail")
    return render_sql(monitor_series_sql(plan, SqlBuilder(compiled.backend)), compiled.backend,
                      kind=f"{compiled.kind} series", name=compiled.name, files=plan.files)


def _guard(kind: Kind, name: str, backend: Backend, plan: Callable[[], Plan],
           label: str | None = None) -> Compiled:
    """Plan and emit; what fails becomes a `CompileError` naming the object."""
    try:
        return _emit(kind, name, plan(), backend, label)
    except (PlanError, SqlglotError, KeyError) as exc:
        raise CompileError(label or KINDS[kind].label, name, backend.name, str(exc).split("\n")[0],
                           request=isinstance(exc, PlanError)) from exc
