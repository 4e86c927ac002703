"""The plan of a KPI-tree reconciliation: do the drivers, combined as declared, give the
parent? One metric query computes every metric of the tree per period; each edge with a
composition (sum, product, ratio, weighted) becomes a parent value, a composed value and
their residual. `drivers(…)` edges only record influence and are not reconciled: a tree with
nothing but those has nothing to reconcile, and its query returns no rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from metricspec.plan.formula import Bin, Const, Formula, Part
from metricspec.plan.lower import PlanError
from metricspec.plan.metric_query import Grain, MetricQueryPlan, plan_metric_query
from metricspec.semantic import Index


@dataclass(frozen=True)
class ReconciledEdge:
    parent: str
    composition: str
    composed: Formula  # over metric names


@dataclass(frozen=True)
class KpiPlan:
    name: str
    north_star: str | None
    edges: tuple[ReconciledEdge, ...]
    series: MetricQueryPlan | None  # None when no edge has a composition to reconcile
    files: tuple[str, ...]

    def columns_read(self) -> dict[str, tuple[str, ...]]:
        """Every column the reconciliation reads, by source name (none without a series)."""
        return self.series.columns_read() if self.series else {}


def plan_kpi(index: Index, name: str, *, grain: Grain | None = None,
             start: dt.datetime | None = None, end: dt.datetime | None = None) -> KpiPlan:
    kpi = index.kpis.get(name)
    if kpi is None:
        raise PlanError(f"unknown KPI tree `{name}`")
    if grain is not None and grain.unit == "none":
        raise PlanError(f"KPI tree `{name}` is reconciled period by period: give a grain "
                        "(a month grain with a month's range is one period)")
    edges: list[ReconciledEdge] = []
    metrics: dict[str, None] = {}
    for edge in kpi.edges:
        if edge.composition == "drivers":
            continue
        names = [d.metric.name for d in edge.drivers]
        composed: Formula
        if edge.composition == "ratio":
            composed = Bin("/", Part(names[0]), Part(names[1]))
        else:
            op = "*" if edge.composition == "product" else "+"
            terms: list[Formula] = [
                Bin("*", Const(d.weight if d.weight is not None else 1.0), Part(d.metric.name))
                if edge.composition == "weighted" else Part(d.metric.name)
                for d in edge.drivers]
            composed = terms[0]
            for term in terms[1:]:
                composed = Bin(op, composed, term)  # type: ignore[arg-type]
        edges.append(ReconciledEdge(edge.parent.name, edge.composition, composed))
        metrics.setdefault(edge.parent.name)
        for n in names:
            metrics.setdefault(n)
    series = plan_metric_query(index, list(metrics), grain=grain, start=start, end=end,
                               title=name) if edges else None
    return KpiPlan(name=name, north_star=kpi.north_star.name if kpi.north_star else None,
                   edges=tuple(edges), series=series,
                   files=tuple(sorted({kpi.span.file, *(series.files if series else ())})))
