"""The spec objects: sources, metrics, KPI trees, guardrails, experiments and monitors.

Fields a user may leave out are optional here, so the checker — not the parser — reports
what is missing, with the span of the object.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from metricspec.ir.base import HasSettings, Node, Span
from metricspec.ir.expr import Amount, Duration, Expr, Filter, PeriodOffset, Ref

ColumnType = Literal["string", "integer", "number", "boolean", "timestamp", "date"]
Direction = Literal["up", "down", "none"]
Format = Literal["number", "percent", "currency", "duration", "integer"]
Composition = Literal["sum", "product", "ratio", "weighted", "drivers"]
Correction = Literal["none", "bonferroni", "holm", "bh"]
EntityRole = Literal["primary", "foreign"]


class Column(Node):
    """A column of a source; its type, when declared, lets the checker type aggregations."""

    name: str
    type: str | None = None
    type_span: Span | None = None
    #: For an entity: `primary` (one row per key: a dimension table other sources join to)
    #: or `foreign` (many rows per key); undeclared is foreign.
    role: EntityRole | None = None


class DerivedDimension(Node):
    """`dimension tenure = case when … end`: a dimension computed from the source's columns
    by an expression of the closed filter grammar."""

    name: str
    expr: Filter


class Source(Node):
    """A table or SQL query with its entities, time column, dimensions and columns."""

    name: str
    label: str | None = None
    description: str | None = None
    owner: str | None = None
    table: tuple[str, ...] | None = None
    query: str | None = None
    entities: tuple[Column, ...] = ()
    time: Column | None = None
    dimensions: tuple[Column, ...] = ()
    columns: tuple[Column, ...] = ()
    derived: tuple[DerivedDimension, ...] = ()
    #: Validity columns of a slowly changing dimension, joined as of the event's time.
    valid_from: Column | None = None
    valid_to: Column | None = None
    #: The IANA zone whose wall-clock time the (naive) time column holds; None: UTC.
    timezone: str | None = None
    timezone_span: Span | None = None

    @property
    def typed(self) -> bool:
        """A source that declares its columns: references to others are errors."""
        return bool(self.columns)

    def all_columns(self) -> tuple[Column, ...]:
        time = (self.time,) if self.time else ()
        validity = tuple(c for c in (self.valid_from, self.valid_to) if c is not None)
        return self.entities + time + self.dimensions + self.columns + validity

    def column(self, name: str) -> Column | None:
        for col in self.all_columns():
            if col.name == name:
                return col
        return None


class Baseline(Node):
    """A metric's historical mean (and standard deviation) for power calculations."""

    mean: float
    sd: float | None = None


class Prior(Node):
    """A Gaussian prior on the relative lift (0.1 = +10 %) for Bayesian readouts."""

    mean: float
    sd: float


class Metric(HasSettings):
    name: str
    expr: Expr
    label: str | None = None
    description: str | None = None
    owner: str | None = None
    unit: str | None = None
    format: str | None = None
    direction: str | None = None
    tags: tuple[str, ...] = ()
    baseline: Baseline | None = None
    version: int = 1  # part of its identity: bumped when a pinned definition changes
    prior: Prior | None = None


class Driver(Node):
    metric: Ref
    weight: float | None = None


class KpiEdge(Node):
    """`parent <- product(a, b)`: how drivers compose into their parent."""

    parent: Ref
    composition: Composition
    drivers: tuple[Driver, ...]


class Kpi(Node):
    name: str
    label: str | None = None
    description: str | None = None
    owner: str | None = None
    north_star: Ref | None = None
    edges: tuple[KpiEdge, ...] = ()

    def metric_names(self) -> tuple[str, ...]:
        """Every metric the tree names, once each: the north star, then each edge's parent
        and its drivers, in the order written."""
        names = [self.north_star.name] if self.north_star else []
        for edge in self.edges:
            names += [edge.parent.name, *(d.metric.name for d in edge.drivers)]
        return tuple(dict.fromkeys(names))


class Guardrail(Node):
    """An absolute threshold a metric must respect at all times (checked by monitoring)."""

    name: str
    metric: Ref
    comparator: Literal["<", "<=", ">", ">="]
    threshold: Amount
    every: Duration | None = None
    label: str | None = None
    description: str | None = None
    owner: str | None = None


class Margin(Node):
    """A non-inferiority margin: `max_increase 10%`, `max_decrease 0.5pp`, `margin 5%`."""

    kind: Literal["max_increase", "max_decrease", "margin"]
    amount: Amount

    @property
    def relative(self) -> bool:
        return self.amount.kind == "percent"


class Assignment(Node):
    source: Ref
    variant_column: Ref | None = None
    filter: Filter | None = None


class Variant(Node):
    name: str
    weight: Amount
    is_control: bool = False


class ExperimentGuardrail(Node):
    metric: Ref
    margin: Margin | None = None


class Covariate(Node):
    """A regression-adjustment covariate: `pre(metric)` (the metric per unit over the
    pre-period) or `unit.column` (a numeric column of the assignment source, read on the
    unit's first exposure row)."""

    kind: Literal["pre", "unit"]
    ref: Ref


class Winsorize(Node):
    """Cap unit-level values of `metrics` at a percentile (`at 99%`, `at 0.99`, `at 99`)."""

    metrics: tuple[Ref, ...]
    percentile: Amount

    @property
    def fraction(self) -> float:
        amount = self.percentile
        if amount.kind == "number" and amount.value > 1:
            return amount.value / 100.0
        return amount.fraction


class Mde(Node):
    amount: Amount
    relative: bool


class Sequential(Node):
    """Always-valid confidence sequences; with `spending`, a group-sequential design."""

    looks: int | None = None
    spending: str | None = None


class Traffic(Node):
    units: int
    per: str


class AnalysisWindow(Node):
    """`window 2026-11-01 .. 2026-11-14`: dates are whole days, so the end is inclusive."""

    start: dt.datetime
    end: dt.datetime
    end_is_date: bool = True

    @property
    def end_exclusive(self) -> dt.datetime:
        """The first instant after the window (the largest datetime for a window that ends
        on the last representable day)."""
        if not self.end_is_date:
            return self.end
        if self.end.date() >= dt.date.max:
            return dt.datetime.max
        return self.end + dt.timedelta(days=1)


class Experiment(HasSettings):
    name: str
    label: str | None = None
    description: str | None = None
    owner: str | None = None
    unit: Ref | None = None
    assignment: Assignment | None = None
    variants: tuple[Variant, ...] = ()
    window: AnalysisWindow | None = None
    primary: tuple[Ref, ...] = ()
    secondary: tuple[Ref, ...] = ()
    guardrails: tuple[ExperimentGuardrail, ...] = ()
    alpha: float = 0.05
    power: float = 0.8
    mde: Mde | None = None
    correction: str = "holm"
    cuped: Duration | None = None
    sequential: Sequential | None = None
    segments: tuple[Ref, ...] = ()
    winsorize: tuple[Winsorize, ...] = ()
    traffic: Traffic | None = None
    srm_alpha: float = 0.001
    analysis: str = "frequentist"
    prior: Prior | None = None
    chance_to_win: float = 0.95
    max_risk: float = 0.01
    stratify: Ref | None = None
    covariates: tuple[Covariate, ...] = ()


class AlertRule(Node):
    """When a monitor fires: relative to its baseline, past a threshold, or by z-score."""

    kind: Literal["below_baseline", "above_baseline", "below", "above", "zscore_below",
                  "zscore_above"]
    threshold: Amount
    consecutive: int = 1


class Monitor(HasSettings):
    name: str
    label: str | None = None
    description: str | None = None
    owner: str | None = None
    metric: Ref | None = None
    every: Duration | None = None
    baseline: Duration | None = None
    alert: AlertRule | None = None
    min_n: int | None = None
    dimensions: tuple[Ref, ...] = ()
    #: `baseline offset 1 week`: the same window that far earlier (instead of `baseline`)
    baseline_offset: PeriodOffset | None = None


class Calendar(HasSettings):
    """The project's calendar: the IANA zone periods are cut in (UTC when not given), the
    first day of a week (ISO Monday when not given) and the month a fiscal year starts in
    (January when not given). Values are kept as written; `check.calendar` judges them."""

    timezone: str | None = None
    week_start: str | None = None
    fiscal_year_start: str | None = None
    description: str | None = None


SpecObject = Source | Metric | Kpi | Guardrail | Experiment | Monitor


class Project(Node):
    """Everything read from a set of spec files."""

    files: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    metrics: tuple[Metric, ...] = ()
    kpis: tuple[Kpi, ...] = ()
    guardrails: tuple[Guardrail, ...] = ()
    experiments: tuple[Experiment, ...] = ()
    monitors: tuple[Monitor, ...] = ()
    #: at most one (MS442); `semantic.Index.calendar` is the one in force
    calendars: tuple[Calendar, ...] = ()
