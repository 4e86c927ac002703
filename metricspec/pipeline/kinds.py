"""The kinds of object the pipeline compiles, as a registry: for each kind, the planner that
turns a name and a request into a plan, the emitter that turns the plan into a sqlglot tree,
the notes that head its SQL file, and the folder its file goes to.

Adding a kind of object is one entry here (with its planner in `plan/` and its emitter in
`emit/`); nothing else dispatches on kinds.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from sqlglot import exp

from metricspec.backends import Backend
from metricspec.emit.experiment_sql import experiment_sql
from metricspec.emit.kpi_sql import kpi_sql
from metricspec.emit.metric_sql import metric_query_sql
from metricspec.emit.monitor_sql import monitor_sql
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.plan.experiment import ExperimentPlan, plan_experiment
from metricspec.plan.kpi import KpiPlan, plan_kpi
from metricspec.plan.metric_query import Grain, MetricQueryPlan, plan_metric_query
from metricspec.plan.monitor import MonitorPlan, plan_monitor
from metricspec.semantic import Index

Kind = Literal["metric", "metrics", "experiment", "monitor", "guardrail", "kpi"]
Plan = MetricQueryPlan | ExperimentPlan | MonitorPlan | KpiPlan
P = TypeVar("P", MetricQueryPlan, ExperimentPlan, MonitorPlan, KpiPlan)


@dataclass(frozen=True)
class Request:
    """What a caller asks of an object beyond its definition: the time grain, dimensions to
    group by and the time range [start, end). The defaults leave the spec's own (a day grain,
    no dimensions, all time). An answer the specs cannot give is a request error (exit 2)."""

    grain: Grain | None = None
    dimensions: tuple[str, ...] = ()
    start: dt.datetime | None = None
    end: dt.datetime | None = None


@dataclass(frozen=True)
class ObjectKind(Generic[P]):
    """One kind of compilable object."""

    kind: Kind
    label: str  # how SQL headers and errors name an object of this kind
    folder: str  # its files' folder under build/<dialect>/
    plan: Callable[[Index, str, Request], P]
    emit: Callable[[P, SqlBuilder], exp.Expr]
    notes: Callable[[P, Backend], list[str]]


_GROUPS: weakref.WeakKeyDictionary[Index, dict[str, list[str]]] = weakref.WeakKeyDictionary()


def metric_groups(index: Index) -> dict[str, list[str]]:
    """Metrics grouped by the exact set of sources they read, named after those sources
    (e.g. `feedback`, `conversations+messages`); computed once per index."""
    groups = _GROUPS.get(index)
    if groups is None:
        found: dict[str, list[str]] = {}
        for name in sorted(index.metrics):
            found.setdefault(group_of(index, name), []).append(name)
        groups = _GROUPS[index] = dict(sorted(found.items()))
    return groups


def group_of(index: Index, metric: str) -> str:
    """The name of the group of `metric`: the sources it reads (`metric_groups`)."""
    return "+".join(sorted(set(index.sources_of(metric))) or ["constants"])


def plan_metrics(index: Index, names: list[str], request: Request,
                 title: str | None = None) -> MetricQueryPlan:
    """Several metrics in one query, by the request's grain and dimensions."""
    return plan_metric_query(index, names, grain=request.grain, dimensions=request.dimensions,
                             start=request.start, end=request.end, title=title)


def _plan_metric(index: Index, name: str, request: Request) -> MetricQueryPlan:
    return plan_metrics(index, [name], request)


def _plan_group(index: Index, name: str, request: Request) -> MetricQueryPlan:
    return plan_metrics(index, metric_groups(index)[name], request, title=name)


def _plan_experiment(index: Index, name: str, request: Request) -> ExperimentPlan:
    return plan_experiment(index, name)


def _plan_monitor(index: Index, name: str, request: Request) -> MonitorPlan:
    return plan_monitor(index, name, start=request.start, end=request.end)


def _plan_kpi(index: Index, name: str, request: Request) -> KpiPlan:
    return plan_kpi(index, name, grain=request.grain, start=request.start, end=request.end)


def _approximate(plan: MetricQueryPlan, backend: Backend) -> list[str]:
    notes = []
    if backend.approximate_percentiles and any(
        m.func == "quantile" for s in plan.scans for m in s.measures
    ):
        notes.append(f"percentiles are approximate on {backend.title}")
    if any(m.approximate for s in plan.scans for m in s.measures):
        notes.append("distinct counts marked `approximate` are HyperLogLog estimates")
    return notes


def _grain(plan: MetricQueryPlan) -> str:
    dimensions = f"; dimensions: {', '.join(plan.dimensions)}" if plan.dimensions else ""
    zone = f"; time zone: {plan.timezone}" if plan.timezone else ""
    return f"grain: {plan.grain}{zone}{dimensions}"


def _metric_notes(plan: MetricQueryPlan, backend: Backend) -> list[str]:
    return [_grain(plan), *_approximate(plan, backend)]


def _group_notes(plan: MetricQueryPlan, backend: Backend) -> list[str]:
    metrics = ", ".join(m.name for m in plan.metrics)
    return [_grain(plan), f"metrics: {metrics}", *_approximate(plan, backend)]


def _experiment_notes(plan: ExperimentPlan, backend: Backend) -> list[str]:
    return ["output: sufficient statistics in the long format (docs/sufficient-statistics.md)"]


def _monitor_notes(plan: MonitorPlan, backend: Backend) -> list[str]:
    return [f"alerts when {plan.metric} is {plan.description}"]


def _no_notes(plan: KpiPlan, backend: Backend) -> list[str]:
    return []


KINDS: dict[Kind, ObjectKind[Any]] = {
    "metric": ObjectKind("metric", "metric", "metrics", _plan_metric, metric_query_sql,
                         _metric_notes),
    "metrics": ObjectKind("metrics", "metric query", "metrics", _plan_group, metric_query_sql,
                          _group_notes),
    "experiment": ObjectKind("experiment", "experiment", "experiments", _plan_experiment,
                             experiment_sql, _experiment_notes),
    "monitor": ObjectKind("monitor", "monitor", "monitors", _plan_monitor, monitor_sql,
                          _monitor_notes),
    "guardrail": ObjectKind("guardrail", "guardrail", "guardrails", _plan_monitor, monitor_sql,
                            _monitor_notes),
    "kpi": ObjectKind("kpi", "kpi", "kpis", _plan_kpi, kpi_sql, _no_notes),
}
