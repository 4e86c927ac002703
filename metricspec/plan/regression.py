"""The plan of an experiment's regression adjustment (`covariates` in the spec): which
metrics are adjusted (y) and the per-unit covariates (x), each a variable of the sums the
regression query returns (docs/sufficient-statistics.md, "Regression sums").

y: every primary and secondary metric that is one count or sum per unit (a mean or a
proportion); a ratio, a conversion, a percentile or a composite is not adjusted.
x: `pre(m)` is m's count or sum per unit over the CUPED pre-period [start − D, start);
`unit.c` is column c of the assignment source on the unit's first exposure row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from metricspec import ir
from metricspec.plan.experiment import ExperimentPlan
from metricspec.plan.joins import Joins, plan_joins
from metricspec.plan.lower import InternalError, Measure, checked_filter
from metricspec.semantic import Index


@dataclass(frozen=True)
class PlanCovariate:
    name: str  # as written: `pre(m)` or `unit.c` (the variable's name in the sums)
    kind: Literal["pre", "unit"]
    measure: Measure | None = None  # pre(m): m per unit, over the pre-period
    column: str | None = None  # unit.c


@dataclass(frozen=True)
class RegressionPlan:
    plan: ExperimentPlan
    adjusted: tuple[tuple[str, Measure], ...]  # (metric, its per-unit count or sum)
    covariates: tuple[PlanCovariate, ...]
    sources: dict[str, ir.Source]  # every source read, the assignment's included
    #: the dimensions of other tables the measures' filters read, by source
    joins: dict[str, Joins] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.covariates)


def plan_regression(index: Index, plan: ExperimentPlan) -> RegressionPlan | None:
    """The regression adjustment of a planned experiment, or None without covariates (or
    without a metric to adjust)."""
    exp = plan.experiment
    if not exp.covariates:
        return None
    if any(c.kind == "pre" for c in exp.covariates) and plan.pre_start is None:
        raise InternalError(f"experiment `{exp.name}`: pre(…) without a pre-period", "MS520")
    covariates = []
    for cov in exp.covariates:
        if cov.kind == "pre":
            measure = _count_or_sum(index, cov.ref.name, f"pre__{cov.ref.name}")
            if measure is None:
                raise InternalError(f"`pre({cov.ref.name})` is not a count or sum", "MS520")
            covariates.append(PlanCovariate(f"pre({cov.ref.name})", "pre", measure=measure))
        else:
            covariates.append(PlanCovariate(f"unit.{cov.ref.name}", "unit",
                                            column=cov.ref.name))
    adjusted = []
    for metric in plan.metrics:
        if metric.role not in ("primary", "secondary") or metric.kind not in ("mean",
                                                                               "proportion"):
            continue
        measure = _count_or_sum(index, metric.name, f"y__{metric.name}")
        if measure is not None:
            adjusted.append((metric.name, measure))
    if not adjusted:
        return None
    read = [m.source for _, m in adjusted] + [c.measure.source for c in covariates if c.measure]
    sources = {name: index.sources[name] for name in (*read, plan.assignment.name)}
    measures = [m for _, m in adjusted] + [c.measure for c in covariates if c.measure]
    joins = {name: found for name in dict.fromkeys(read) if (found := plan_joins(
        index.sources, sources[name], (), [m for m in measures if m.source == name]))}
    return RegressionPlan(plan, tuple(adjusted), tuple(covariates), sources, joins)


def _count_or_sum(index: Index, metric: str, name: str) -> Measure | None:
    expr = index.expand(index.metrics[metric].expr)
    if ir.shape(expr) != "simple" or not isinstance(expr, ir.Aggregate):
        return None
    return Measure(name=name, source=expr.source.name, func=expr.func,  # type: ignore[arg-type]
                   column=expr.column.name if expr.column else None,
                   filter=checked_filter(expr.filter))
