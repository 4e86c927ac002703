"""Name resolution over a parsed `Project`: lookups, metric dependencies and expansion.

The checker uses it to find problems; the planner uses it on projects the checker passed.
Everything here tolerates broken specs (unknown names, cycles): it resolves what it can and
leaves the judging to `metricspec.check`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import cached_property
from typing import Literal, TypeVar

from metricspec import ir


class Index:
    """Lookups by name over one project, plus metric dependency helpers."""

    def __init__(self, project: ir.Project) -> None:
        self.project = project
        self.sources: dict[str, ir.Source] = _first_by_name(project.sources)
        self.metrics: dict[str, ir.Metric] = _first_by_name(project.metrics)
        self.kpis: dict[str, ir.Kpi] = _first_by_name(project.kpis)
        self.guardrails: dict[str, ir.Guardrail] = _first_by_name(project.guardrails)
        self.experiments: dict[str, ir.Experiment] = _first_by_name(project.experiments)
        self.monitors: dict[str, ir.Monitor] = _first_by_name(project.monitors)
        self._sources_of: dict[str, tuple[str, ...]] = {}
        #: the calendar in force: the first declared (check reports others), else the default
        self.calendar: ir.Calendar = (project.calendars[0] if project.calendars
                                      else ir.Calendar(span=ir.Span.unknown()))
        # The objects a name can refer to (one namespace; see check.names), by kind.
        self.objects: dict[str, dict[str, ir.SpecObject]] = {
            "metric": self.metrics, "experiment": self.experiments,  # type: ignore[dict-item]
            "monitor": self.monitors, "guardrail": self.guardrails,  # type: ignore[dict-item]
            "kpi": self.kpis,  # type: ignore[dict-item]
        }

    def find(self, name: str) -> tuple[str, ir.SpecObject] | None:
        """The kind and object a name refers to among metrics, experiments, monitors,
        guardrails and KPI trees, or None."""
        for kind, table in self.objects.items():
            if name in table:
                return kind, table[name]
        return None

    # ------------------------------------------------------------ dependencies

    @cached_property
    def metric_deps(self) -> dict[str, tuple[str, ...]]:
        """For each metric, the metrics its expression names directly (known ones only)."""
        deps: dict[str, tuple[str, ...]] = {}
        for name, metric in self.metrics.items():
            seen: dict[str, None] = {}
            for ref in ir.metric_refs(metric.expr):
                if ref.name in self.metrics:
                    seen.setdefault(ref.name)
            deps[name] = tuple(seen)
        return deps

    def closure(self, name: str) -> list[str]:
        """The metric and everything it depends on, dependencies first (cycle-safe)."""
        order: list[str] = []
        state: dict[str, int] = {}
        stack: list[tuple[str, Iterator[str]]] = [(name, iter(self.metric_deps.get(name, ())))]
        state[name] = 1
        while stack:
            current, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                state[current] = 2
                order.append(current)
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(self.metric_deps.get(child, ()))))
        return order

    def expand(self, expr: ir.Expr, _active: frozenset[str] = frozenset()) -> ir.Expr:
        """Inline referenced metrics until only aggregates and literals remain.

        A reference inside a cycle or to an unknown metric is left as it is.
        """
        if isinstance(expr, ir.MetricRef):
            metric = self.metrics.get(expr.name)
            if metric is None or expr.name in _active:
                return expr
            return self.expand(metric.expr, _active | {expr.name})
        return ir.replace(expr, lambda child: self.expand(child, _active))

    def aggregates(self, metric: str) -> list[ir.Aggregate]:
        """Every aggregation a metric needs, through the metrics it uses."""
        found: list[ir.Aggregate] = []
        for name in self.closure(metric):
            found.extend(n for n in ir.walk(self.metrics[name].expr)
                         if isinstance(n, ir.Aggregate))
        return found

    def sources_of(self, metric: str) -> list[str]:
        """Every source a metric reads (aggregations and conversions), in first-use order."""
        known = self._sources_of.get(metric)
        if known is not None:  # planning asks once per metric and per query it is in
            return list(known)
        names: dict[str, None] = {}
        for dep in self.closure(metric):
            for node in ir.walk(self.metrics[dep].expr):
                if isinstance(node, ir.Aggregate):
                    names.setdefault(node.source.name)
                elif isinstance(node, ir.Conversion):
                    names.setdefault(node.start.source.name)
                    names.setdefault(node.end.source.name)
        self._sources_of[metric] = tuple(names)
        return list(names)

    def metrics_of(self, name: str) -> list[str]:
        """The metrics an object computes, with every metric they are built from: a metric,
        an experiment (its primary, secondary and guardrail metrics and `pre(…)`
        covariates), a monitor, a guardrail or a KPI tree."""
        found = self.find(name)
        if found is None:
            return []
        _, obj = found
        named: list[str] = []
        if isinstance(obj, ir.Metric):
            named = [obj.name]
        elif isinstance(obj, ir.Experiment):
            named = experiment_metric_names(obj) + [
                c.ref.name for c in obj.covariates if c.kind == "pre"]
        elif isinstance(obj, ir.Monitor | ir.Guardrail):
            named = [obj.metric.name] if obj.metric is not None else []
        elif isinstance(obj, ir.Kpi):
            named = list(obj.metric_names())
        seen: dict[str, None] = {}
        for metric in named:
            for dep in self.closure(metric) if metric in self.metrics else ():
                seen.setdefault(dep)
        return list(seen)

    def uses_of(self, metric: str) -> dict[str, list[str]]:
        """What refers to a metric: other metrics, KPI trees, guardrails, experiments,
        monitors (for the docs catalog)."""
        uses: dict[str, list[str]] = {"metrics": [], "kpis": [], "guardrails": [],
                                      "experiments": [], "monitors": []}
        for name, deps in self.metric_deps.items():
            if metric in deps:
                uses["metrics"].append(name)
        for kpi in self.kpis.values():
            if metric in kpi.metric_names():
                uses["kpis"].append(kpi.name)
        for guardrail in self.guardrails.values():
            if guardrail.metric.name == metric:
                uses["guardrails"].append(guardrail.name)
        for exp in self.experiments.values():
            if metric in experiment_metric_names(exp):
                uses["experiments"].append(exp.name)
        for monitor in self.monitors.values():
            if monitor.metric and monitor.metric.name == metric:
                uses["monitors"].append(monitor.name)
        return uses


def experiment_metric_refs(exp: ir.Experiment) -> list[tuple[str, ir.Ref]]:
    """An experiment's metrics with their roles, in declaration order."""
    out: list[tuple[str, ir.Ref]] = [("primary", r) for r in exp.primary]
    out += [("secondary", r) for r in exp.secondary]
    out += [("guardrail", g.metric) for g in exp.guardrails]
    return out


def experiment_metric_names(exp: ir.Experiment) -> list[str]:
    seen: dict[str, None] = {}
    for _, ref in experiment_metric_refs(exp):
        seen.setdefault(ref.name)
    return list(seen)


T = TypeVar("T", ir.Source, ir.Metric, ir.Kpi, ir.Guardrail, ir.Experiment, ir.Monitor)


def _first_by_name(objects: tuple[T, ...]) -> dict[str, T]:
    out: dict[str, T] = {}
    for obj in objects:
        out.setdefault(obj.name, obj)
    return out


Status = Literal["running", "planned", "finished", "unscheduled"]


def experiment_status(exp: ir.Experiment, today: dt.date) -> Status:
    """Running, planned or finished by the experiment's window against `today`."""
    if exp.window is None:
        return "unscheduled"
    if today < exp.window.start.date():
        return "planned"
    if dt.datetime.combine(today, dt.time()) >= exp.window.end_exclusive:
        return "finished"
    return "running"
