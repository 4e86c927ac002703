"""The intermediate representation: plain, frozen, serialisable data with spans.

Both front ends (DSL and YAML) build it; every later stage reads it. Nothing here judges a
spec — that is `metricspec.check`.
"""

from metricspec.ir.base import HasSettings, Node, Span, strip_spans
from metricspec.ir.expr import (
    SECONDS,
    Aggregate,
    Amount,
    BinaryOp,
    Conversion,
    Duration,
    EventSet,
    Expr,
    Filter,
    MetricRef,
    Negate,
    Number,
    Offset,
    PeriodOffset,
    Ref,
    Weighted,
    WeightedTerm,
    Window,
    children,
    metric_refs,
    replace,
    walk,
)
from metricspec.ir.shape import BASE_SHAPES, PLAIN, Shape, shape
from metricspec.ir.spec import (
    AlertRule,
    AnalysisWindow,
    Assignment,
    Baseline,
    Column,
    Covariate,
    DerivedDimension,
    Driver,
    Experiment,
    ExperimentGuardrail,
    Guardrail,
    Kpi,
    KpiEdge,
    Margin,
    Mde,
    Metric,
    Monitor,
    Prior,
    Project,
    Sequential,
    Source,
    SpecObject,
    Traffic,
    Variant,
    Winsorize,
)

__all__ = [
    "BASE_SHAPES", "PLAIN", "SECONDS", "Aggregate", "AlertRule", "Amount", "AnalysisWindow",
    "Assignment", "Baseline",
    "BinaryOp", "Column", "Conversion", "Covariate", "DerivedDimension", "Driver", "Duration",
    "EventSet", "Experiment",
    "ExperimentGuardrail", "Expr", "Filter", "Guardrail", "HasSettings", "Kpi", "KpiEdge",
    "Margin", "Mde",
    "Metric", "MetricRef", "Monitor", "Negate", "Node", "Number", "Offset", "PeriodOffset",
    "Prior", "Project", "Ref",
    "Sequential",
    "Shape", "Source", "Span", "SpecObject", "Traffic", "Variant", "Weighted", "WeightedTerm",
    "Window", "Winsorize", "children", "metric_refs", "replace", "shape", "strip_spans", "walk",
]
