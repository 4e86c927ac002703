"""The plan of an experiment analysis: exposures, unit-level components, base metrics.

Every experiment metric becomes a formula over *base metrics*, each of which is one row of
the sufficient-statistics output (see docs/sufficient-statistics.md):

- `mean` / `proportion`: one unit-level value x (a count or sum of one source);
- `ratio`: x / y, two unit-level values (a ratio of sums, an average, a conversion);
- `quantile`: an event-level percentile, clustered by unit.

A metric that is one of these is analysed as it is; any other (e.g. a weighted composite of
ratios) is `derived`: a formula over its base metrics, analysed by the delta method with the
cross moments the SQL also returns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

from metricspec import ir
from metricspec.filters import CheckedFilter
from metricspec.plan.formula import Formula, Part, parts
from metricspec.plan.joins import Joins, conversion_columns, conversion_joins, plan_joins
from metricspec.plan.lower import (
    Conversion,
    InternalError,
    Measure,
    PlanError,
    checked_filter,
    filter_columns,
    to_formula,
)
from metricspec.plan.zones import from_utc, project_zone, to_utc
from metricspec.semantic import Index, experiment_metric_refs

BaseKind = Literal["mean", "proportion", "ratio", "quantile"]
MetricKind = Literal["mean", "proportion", "ratio", "quantile", "derived"]
Role = Literal["primary", "secondary", "guardrail"]


# The parts of a base metric are the types a metric query uses: a unit-level component
# (count, count_distinct or sum of one source over each unit's events) and an event-level
# percentile are each a `Measure`; a conversion is a `Conversion` whose entity is the unit
# (per unit: started after exposure, and converted within `within_seconds`).


@dataclass(frozen=True)
class BaseMetric:
    name: str
    kind: BaseKind
    x: Measure | None = None
    y: Measure | None = None
    conversion: Conversion | None = None
    quantile: Measure | None = None
    cuped: bool = False
    winsorize: float | None = None


@dataclass(frozen=True)
class AnalysisMetric:
    name: str
    role: Role
    kind: MetricKind
    formula: Formula
    bases: tuple[str, ...]
    direction: Literal["increase", "decrease", "none"]
    margin: ir.Margin | None
    metric: ir.Metric


@dataclass(frozen=True)
class ExperimentPlan:
    experiment: ir.Experiment
    unit: str
    assignment: ir.Source
    variant_column: str
    assignment_where: CheckedFilter | None
    variants: tuple[str, ...]
    control: str
    weights: tuple[float, ...]
    start: dt.datetime
    end: dt.datetime
    pre_start: dt.datetime | None
    segments: tuple[str, ...]
    bases: tuple[BaseMetric, ...]
    metrics: tuple[AnalysisMetric, ...]
    cross: tuple[tuple[str, str], ...]
    sources: dict[str, ir.Source]
    history: bool = False
    #: Dimensions of other tables: those metric scans' filters read, by source, and those
    #: the segments read at each unit's first exposure (`plan.joins`).
    joins: dict[str, Joins] = field(default_factory=dict)
    segment_joins: Joins | None = None
    #: the project's zone (None: UTC): the window's dates are its days; `start`, `end` and
    #: `pre_start` are the UTC instants of their local midnights (plan/zones.py)
    timezone: str | None = None

    @property
    def local_start(self) -> dt.datetime:
        """The window's first instant as a wall-clock time in the project zone."""
        return from_utc(self.start, self.timezone)

    @property
    def local_end(self) -> dt.datetime:
        """The window's end (exclusive) as a wall-clock time in the project zone."""
        return from_utc(self.end, self.timezone)

    @property
    def assignment_local(self) -> CheckedFilter | None:
        """The assignment's `where` reading the assignment relation's joined columns."""
        joins = self.segment_joins
        return joins.localize(self.assignment_where) if joins else self.assignment_where

    def segment_column(self, segment: str) -> str:
        """The assignment relation's column a segment reads: a joined dimension's column
        (`users.plan` is `users_plan`), else the assignment's own column."""
        return self.segment_joins.column(segment) if self.segment_joins else (
            segment.split(".")[-1])

    @property
    def joined_tables(self) -> dict[str, ir.Source]:
        """The dimension tables joined, by name."""
        found = [*self.joins.values(), *([self.segment_joins] if self.segment_joins else []),
                 *(j for b in self.bases if b.conversion for j in (
                     b.conversion.start_joins, b.conversion.end_joins) if j)]
        return {name: table for joins in found for name, table in joins.tables.items()}

    @property
    def files(self) -> tuple[str, ...]:
        names = {self.experiment.span.file} | {m.metric.span.file for m in self.metrics}
        return tuple(sorted(names))

    def scan_sources(self) -> list[str]:
        """Sources read by unit-level components and quantiles, in first-use order."""
        seen: dict[str, None] = {}
        for base in self.bases:
            for comp in (base.x, base.y):
                if comp is not None:
                    seen.setdefault(comp.source)
            if base.quantile is not None:
                seen.setdefault(base.quantile.source)
        return list(seen)

    def metric_sources(self) -> list[str]:
        """Every source the metrics read (conversions included), in first-use order."""
        return _used_sources(self.bases)

    @property
    def assignment_filter(self) -> str | None:
        """The assignment's `where` as written (for documents)."""
        return self.assignment_where.text if self.assignment_where else None

    def scan_columns(self, source: str) -> tuple[str, ...]:
        """The columns of `source` its event scan carries, in a stable order: the time
        column, then what components and percentiles read (values and filters)."""
        names: dict[str, None] = {}
        time = self.sources[source].time
        if time is not None:
            names.setdefault(time.name)
        for base in self.bases:
            parts_read = [c for c in (base.x, base.y, base.quantile) if c is not None]
            for part in parts_read:
                if part.source == source:
                    names.update(dict.fromkeys(self._own_columns(part)))
        joins = self.joins.get(source)
        if joins is not None:
            names.update(dict.fromkeys(j.output for j in joins.columns))
            names.update(dict.fromkeys(d.name for d in joins.derived))
        return tuple(names)

    def _own_columns(self, part: Measure) -> tuple[str, ...]:
        joins = self.joins.get(part.source)
        return joins.own_columns(part) if joins else part.columns_read

    def columns_read(self) -> dict[str, tuple[str, ...]]:
        """Every column the experiment reads, by source name, in first-use order: the
        assignment's unit, variant, segments and filter columns; each source's unit, time
        column and what its components, percentiles and conversions read."""
        needed: dict[str, dict[str, None]] = {name: {} for name in self.sources}
        own_segments = [self.segment_column(s) for s in self.segments
                        if self.segment_joins is None
                        or s not in {j.reference for j in self.segment_joins.columns}
                        | {d.name for d in self.segment_joins.derived}]
        needed[self.assignment.name].update(dict.fromkeys((
            self.unit, self.variant_column, *own_segments,
            *(self.segment_joins.own_columns(_assignment_measure(self))
              if self.segment_joins else filter_columns(self.assignment_where)))))
        for joins in [*self.joins.values(), *([self.segment_joins] if self.segment_joins
                                              else [])]:
            for name, columns in joins.columns_read().items():
                needed.setdefault(name, {}).update(dict.fromkeys(columns))
        for base in self.bases:
            for part in (base.x, base.y, base.quantile):
                if part is not None:
                    needed[part.source].update(dict.fromkeys((self.unit,
                                                              *self._own_columns(part))))
            if base.conversion:
                for name, columns in conversion_columns(base.conversion).items():
                    needed.setdefault(name, {}).update(dict.fromkeys(columns))
        for name, read in self.sources.items():
            if read.time:
                needed[name].setdefault(read.time.name)
        return {name: tuple(columns) for name, columns in needed.items()}


def history_plan(plan: ExperimentPlan, start: dt.datetime, end: dt.datetime) -> ExperimentPlan:
    """The same metrics over a historical window, for power planning: every unit with an
    event in [start, end) counts as exposed at `start`, all in one variant, `baseline`."""
    cuped = plan.pre_start is not None
    shift = (plan.start - plan.pre_start) if cuped and plan.pre_start else None
    return replace(plan, variants=("baseline",), control="baseline", weights=(1.0,),
                   start=start, end=end, pre_start=start - shift if shift else None,
                   segments=(), history=True)


def plan_experiment(index: Index, name: str) -> ExperimentPlan:
    """Plan the analysis of one (checked) experiment."""
    exp = index.experiments.get(name)
    if exp is None:
        raise PlanError(f"unknown experiment `{name}`")
    if exp.unit is None or exp.assignment is None or exp.window is None or not exp.variants:
        raise InternalError(f"experiment `{name}` is incomplete", "MS509/MS513")
    control = _control(exp)
    zone = project_zone(index.calendar)
    assignment = index.sources[exp.assignment.source.name]
    variant_column = exp.assignment.variant_column.name if exp.assignment.variant_column else (
        "variant")
    pre_start = (exp.window.start - dt.timedelta(seconds=exp.cuped.seconds)
                 if exp.cuped else None)
    builder = _Bases(index, exp)
    metrics: list[AnalysisMetric] = []
    seen: set[str] = set()
    for role, ref in experiment_metric_refs(exp):
        if ref.name in seen:
            continue
        seen.add(ref.name)
        metrics.append(builder.analysis_metric(ref.name, role))  # type: ignore[arg-type]
    bases = builder.finish(metrics)
    cross: dict[tuple[str, str], None] = {}
    for metric in metrics:
        if metric.kind == "derived":
            names = sorted(metric.bases)
            for i, a in enumerate(names):
                for b in names[i + 1:]:
                    cross.setdefault((a, b))
    sources = {s: index.sources[s] for s in _used_sources(bases)}
    sources.setdefault(assignment.name, assignment)
    return ExperimentPlan(
        experiment=exp, unit=exp.unit.name, assignment=assignment,
        variant_column=variant_column,
        assignment_where=checked_filter(exp.assignment.filter),
        variants=tuple(v.name for v in exp.variants), control=control,
        weights=tuple(v.weight.fraction for v in exp.variants),
        start=to_utc(exp.window.start, zone), end=to_utc(exp.window.end_exclusive, zone),
        pre_start=to_utc(pre_start, zone) if pre_start else None, timezone=zone,
        segments=_segments(exp), bases=bases, metrics=tuple(metrics),
        cross=tuple(cross), sources=sources,
        joins=_metric_joins(index, sources, bases),
        segment_joins=plan_joins(index.sources, assignment, list(_segments(exp)), [
            Measure("__assignment", assignment.name, "count",
                    filter=checked_filter(exp.assignment.filter))]))


def _assignment_measure(plan: ExperimentPlan) -> Measure:
    """The assignment's filter as a measure: what its relation joins for it (the segments'
    joins, and the dimensions its `where` reads through a join)."""
    return Measure("__assignment", plan.assignment.name, "count", filter=plan.assignment_where)


def _metric_joins(index: Index, sources: dict[str, ir.Source],
                  bases: tuple[BaseMetric, ...]) -> dict[str, Joins]:
    """The joins each source's unit-level scan needs for its components' filters."""
    out: dict[str, Joins] = {}
    for name, source in sources.items():
        parts = [p for b in bases for p in (b.x, b.y, b.quantile)
                 if p is not None and p.source == name]
        joins = plan_joins(index.sources, source, (), parts)
        if joins is not None:
            out[name] = joins
    return out


def _segments(exp: ir.Experiment) -> tuple[str, ...]:
    """The declared segments, and the post-stratification dimension (its rows are the strata)."""
    names = tuple(s.name for s in exp.segments)
    if exp.stratify is not None and exp.stratify.name not in names:
        names += (exp.stratify.name,)
    return names


def _control(exp: ir.Experiment) -> str:
    marked = [v.name for v in exp.variants if v.is_control]
    if len(marked) == 1:
        return marked[0]
    if not marked and any(v.name == "control" for v in exp.variants):
        return "control"
    raise InternalError(f"experiment `{exp.name}` has no single control variant", "MS502")


def _used_sources(bases: tuple[BaseMetric, ...]) -> list[str]:
    seen: dict[str, None] = {}
    for base in bases:
        for comp in (base.x, base.y):
            if comp:
                seen.setdefault(comp.source)
        if base.quantile:
            seen.setdefault(base.quantile.source)
        if base.conversion:
            seen.setdefault(base.conversion.start_source)
            seen.setdefault(base.conversion.end_source)
    return list(seen)


class _Bases:
    """Turns metrics into formulas over base metrics, naming and sharing bases."""

    def __init__(self, index: Index, exp: ir.Experiment) -> None:
        self.index = index
        self.exp = exp
        self.unit = exp.unit.name if exp.unit else ""  # plan_experiment requires one
        self.bases: dict[str, BaseMetric] = {}
        self.winsorized = {m.name: w.fraction for w in exp.winsorize for m in w.metrics}

    def analysis_metric(self, name: str, role: Role) -> AnalysisMetric:
        metric = self.index.metrics[name]
        base = self._as_base(metric.expr, name)
        if base is not None:
            kind: MetricKind = base.kind
            formula: Formula = Part(base.name)
        else:
            kind = "derived"
            formula = self._derive(metric.expr, name, iter(range(1, 1000)))
        guardrail = next((g for g in self.exp.guardrails if g.metric.name == name), None)
        direction = {"up": "increase", "down": "decrease"}.get(metric.direction or "", "none")
        return AnalysisMetric(
            name=name, role=role, kind=kind, formula=formula, bases=tuple(parts(formula)),
            direction=direction, margin=guardrail.margin if guardrail else None,  # type: ignore[arg-type]
            metric=metric)

    def finish(self, metrics: list[AnalysisMetric]) -> tuple[BaseMetric, ...]:
        """Switch CUPED on for bases analysed on their own (not only inside a derived one)."""
        own = {m.bases[0] for m in metrics if m.kind != "derived"}
        out = []
        for base in self.bases.values():
            cuped = (self.exp.cuped is not None and base.name in own
                     and base.kind in ("mean", "proportion", "ratio") and base.conversion is None)
            winsorize = self.winsorized.get(base.name) if base.kind != "quantile" else None
            out.append(BaseMetric(base.name, base.kind, base.x, base.y, base.conversion,
                                  base.quantile, cuped, winsorize))
        return tuple(out)

    def _derive(self, expr: ir.Expr, owner: str, counter: Iterator[int]) -> Formula:
        """A formula over base metrics: each referenced metric, division and aggregate that
        is a base metric is one part; the arithmetic between them is the formula's."""
        def leaf(node: ir.Expr) -> Formula | None:
            if isinstance(node, (ir.Number, ir.Negate, ir.Weighted)):
                return None
            if isinstance(node, ir.MetricRef):
                metric = self.index.metrics[node.name]
                base = self._as_base(metric.expr, node.name)
                return Part(base.name) if base else self._derive(metric.expr, node.name,
                                                                 counter)
            base = self._as_base(node, f"{owner}__b{next(counter)}")
            if base is not None:
                return Part(base.name)
            if isinstance(node, ir.BinaryOp):
                return None
            raise InternalError(f"`{owner}` cannot be analysed in an experiment", "MS510")

        return to_formula(expr, leaf)

    def _as_base(self, expr: ir.Expr, name: str) -> BaseMetric | None:
        """The base metric `expr` is, if it is one (registering it), else None."""
        expanded = self.index.expand(expr)
        found = self._shape(expanded, name)
        if found is None:
            return None
        return self.bases.setdefault(found.name, found)

    def _shape(self, expr: ir.Expr, name: str) -> BaseMetric | None:
        """The base metric of an expression whose shape is one (`ir.BASE_SHAPES`)."""
        shape = ir.shape(expr)
        if shape == "percentile":
            assert isinstance(expr, ir.Aggregate)
            assert expr.column is not None and expr.quantile is not None
            return BaseMetric(name, "quantile", quantile=Measure(
                name, expr.source.name, "quantile", expr.column.name, expr.quantile,
                checked_filter(expr.filter)))
        if shape == "average":
            assert isinstance(expr, ir.Aggregate)
            return BaseMetric(name, "ratio", x=self._component(expr, name, "x", "sum"),
                              y=self._component(expr, name, "y", "count"))
        if shape == "simple":
            assert isinstance(expr, ir.Aggregate)
            kind: BaseKind = "proportion" if (
                expr.func == "count_distinct" and expr.column is not None
                and expr.column.name == self.unit
            ) else "mean"
            return BaseMetric(name, kind, x=self._component(expr, name, "x", expr.func))
        if shape == "ratio":
            assert isinstance(expr, ir.BinaryOp)
            left, right = expr.left, expr.right
            assert isinstance(left, ir.Aggregate) and isinstance(right, ir.Aggregate)
            return BaseMetric(name, "ratio", x=self._component(left, name, "x", left.func),
                              y=self._component(right, name, "y", right.func))
        if shape == "conversion":
            assert isinstance(expr, ir.Conversion)
            return BaseMetric(name, "ratio", conversion=conversion_joins(
                self.index.sources, Conversion(
                    name, self.unit, expr.start.source.name, checked_filter(expr.start.filter),
                    expr.end.source.name, checked_filter(expr.end.filter),
                    expr.within.seconds)))
        return None

    @staticmethod
    def _component(node: ir.Aggregate, name: str, role: str, func: str) -> Measure:
        return Measure(name=f"{name}__{role}", source=node.source.name,
                       func=func,  # type: ignore[arg-type]
                       column=node.column.name if node.column else None,
                       filter=checked_filter(node.filter))
