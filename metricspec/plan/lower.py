"""Lowering: a metric's expression → a formula over measures (plain aggregates of one source).

`avg(x)` becomes `sum(x) / count(x)`, a weighted composite becomes its weighted sum, and a
conversion becomes its own pair of measures. Identical aggregates used by several metrics
become one measure, so a source is scanned once for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from metricspec import ir
from metricspec.filters import CheckedFilter, parse_filter
from metricspec.plan.formula import Bin, Const, Formula, Neg, Part
from metricspec.semantic import Index

if TYPE_CHECKING:
    from metricspec.plan.joins import Joins

MeasureFunc = Literal["count", "count_distinct", "sum", "min", "max", "quantile"]


class PlanError(ValueError):
    """A request the plan cannot satisfy: an unknown name, a grain, a dimension a source
    lacks, an empty time range. Never a judgment of the spec: `check` makes those."""


class InternalError(AssertionError):
    """A state `metricspec check` rules out (named by its code): reaching it is a bug in
    metricspec, or a project that was planned without being checked."""

    def __init__(self, message: str, code: str | None = None) -> None:
        ruled_out = f" (`metricspec check` reports this as {code})" if code else ""
        super().__init__(f"internal error: {message}{ruled_out}")
        self.code = code


def checked_filter(flt: ir.Filter | None) -> CheckedFilter | None:
    """A spec's `where` as the value plans carry: parsed once, its tree rebuilt by
    metricspec, with the columns it reads (None for no filter)."""
    if flt is None:
        return None
    checked, problems = parse_filter(flt.sql)
    if checked is None:
        raise InternalError(f"filter `{flt.sql}` is not valid: {problems[0].message}",
                            problems[0].code)
    return checked


def filter_columns(flt: CheckedFilter | None) -> tuple[str, ...]:
    """The columns a filter reads, in the order first written (none for no filter)."""
    return flt.columns if flt is not None else ()


@dataclass(frozen=True)
class Semi:
    """A semi-additive measure's snapshot choice: each period's `last` (or `first`) rows,
    per entity in `per` (none: the rows at the period's last snapshot time)."""

    choice: Literal["first", "last"]
    per: tuple[str, ...] = ()


@dataclass(frozen=True)
class Measure:
    """One aggregate of one source: what a `GROUP BY` computes in a single scan."""

    name: str
    source: str
    func: MeasureFunc
    column: str | None = None
    quantile: float | None = None
    filter: CheckedFilter | None = None
    #: a HyperLogLog distinct count (`count_distinct(x, approximate)`)
    approximate: bool = False
    #: a semi-additive measure over snapshot rows (`sum(x, last per entity)`)
    semi: Semi | None = None

    @property
    def identity(self) -> tuple[object, ...]:
        return (self.source, self.func, self.column, self.quantile, self.filter,
                self.approximate, self.semi)

    @property
    def columns_read(self) -> tuple[str, ...]:
        """The columns of its source it reads: the aggregated one, then its filter's."""
        return (*([self.column] if self.column else []), *filter_columns(self.filter))


@dataclass(frozen=True)
class Conversion:
    """Share of `entity` values with a `start` event followed by an `end` event within
    `within_seconds`; computed in its own query block, exposed as two measures."""

    name: str
    entity: str
    start_source: str
    start_filter: CheckedFilter | None
    end_source: str
    end_filter: CheckedFilter | None
    within_seconds: int
    #: The dimensions of other tables each end's filter reads (`plan.joins.conversion_joins`).
    start_joins: Joins | None = field(default=None, compare=False)
    end_joins: Joins | None = field(default=None, compare=False)

    @property
    def starts(self) -> str:
        return f"{self.name}__starts"

    @property
    def converted(self) -> str:
        return f"{self.name}__converted"


def to_formula(expr: ir.Expr, leaf: Callable[[ir.Expr], Formula | None]) -> Formula:
    """The formula of an expression: `leaf` turns a node into a formula over named parts
    (or returns None), and the arithmetic around those — numbers, `+ - * /`, negation and
    weighted sums — becomes the formula's own. Both lowerings use it: a metric query's
    leaves are measures, an experiment's base metrics. A node neither handles is a bug
    (`leaf` raises for the nodes its stage rules out)."""
    found = leaf(expr)
    if found is not None:
        return found
    if isinstance(expr, ir.Number):
        return Const(expr.value)
    if isinstance(expr, ir.BinaryOp):
        return Bin(expr.op, to_formula(expr.left, leaf), to_formula(expr.right, leaf))
    if isinstance(expr, ir.Negate):
        return Neg(to_formula(expr.operand, leaf))
    if isinstance(expr, ir.Weighted):
        total: Formula | None = None
        for term in expr.terms:
            part = Bin("*", Const(term.weight), to_formula(term.expr, leaf))
            total = part if total is None else Bin("+", total, part)
        if total is not None:
            return total
    raise InternalError(f"`{expr.kind}` cannot be part of a formula")


@dataclass(frozen=True)
class WindowSpec:
    mode: Literal["rolling", "cumulative"]
    seconds: int | None = None
    #: a rolling window of whole calendar months (`rolling(m, 1 quarter)`: 3); plan.calendar
    months: int | None = None
    #: the grain a cumulative window restarts at (`to_date(m, month)`: `month`)
    to_date: str | None = None


def window_spec(window: ir.Window) -> WindowSpec:
    """A window's plan: a length in seconds, in calendar months, or a period to restart at."""
    length = window.length
    if length is None:
        return WindowSpec(window.mode)
    if window.mode == "cumulative":
        return WindowSpec("cumulative", to_date=length.unit)
    months = {"month": 1, "quarter": 3, "year": 12}.get(length.unit)
    if months is not None:
        return WindowSpec("rolling", months=length.value * months)
    return WindowSpec("rolling", length.seconds)


@dataclass(frozen=True)
class LoweredMetric:
    name: str
    formula: Formula
    window: WindowSpec | None = None


@dataclass
class Lowering:
    """Lowers metrics one by one, sharing identical measures between them."""

    index: Index
    measures: dict[tuple[object, ...], Measure] = field(default_factory=dict)
    conversions: dict[tuple[object, ...], Conversion] = field(default_factory=dict)
    _names: set[str] = field(default_factory=set)

    def metric(self, name: str) -> LoweredMetric:
        return self.expression(name, self.index.expand(self.index.metrics[name].expr))

    def expression(self, name: str, expr: ir.Expr) -> LoweredMetric:
        """An expanded expression lowered as the metric `name` (a whole window its
        `window`): a metric's, or a part of one a time transform reads (`plan.offsets`)."""
        window = None
        if isinstance(expr, ir.Window):
            window = window_spec(expr)
            expr = expr.expr
        counter = iter(range(1, 10_000))
        formula = self._lower(expr, name, counter)
        return LoweredMetric(name=name, formula=formula, window=window)

    def _lower(self, expr: ir.Expr, owner: str, counter: Iterator[int]) -> Formula:
        def leaf(node: ir.Expr) -> Formula | None:
            if isinstance(node, ir.Aggregate):
                return self._aggregate(node, owner, counter)
            if isinstance(node, ir.Conversion):
                conversion = self._conversion(node, owner)
                return Bin("/", Part(conversion.converted), Part(conversion.starts))
            if isinstance(node, (ir.MetricRef, ir.Window, ir.Offset)):
                raise InternalError(f"metric `{owner}` cannot be lowered: unresolved "
                                    f"`{getattr(node, 'name', node.kind)}`",
                                    "MS201/MS301/MS410/MS452")
            return None

        return to_formula(expr, leaf)

    def _aggregate(self, node: ir.Aggregate, owner: str, counter: Iterator[int]) -> Formula:
        column = node.column.name if node.column else None
        flt = checked_filter(node.filter)
        semi = Semi(node.semi.choice, tuple(r.name for r in node.semi.per)) if node.semi \
            else None
        if node.func == "avg":
            total = self._measure(owner, counter, node.source.name, "sum", column, None, flt,
                                  semi=semi)
            count = self._measure(owner, counter, node.source.name, "count", column, None, flt,
                                  semi=semi)
            return Bin("/", Part(total), Part(count))
        func: MeasureFunc = node.func
        return Part(self._measure(owner, counter, node.source.name, func, column,
                                  node.quantile, flt, node.approximate, semi))

    def _measure(self, owner: str, counter: Iterator[int], source: str, func: MeasureFunc,
                 column: str | None, quantile: float | None, flt: CheckedFilter | None,
                 approximate: bool = False, semi: Semi | None = None) -> str:
        key = (source, func, column, quantile, flt, approximate, semi)
        if key not in self.measures:
            name = self._fresh(f"{owner}__{next(counter)}")
            self.measures[key] = Measure(name, source, func, column, quantile, flt,
                                         approximate, semi)
        return self.measures[key].name

    def _conversion(self, node: ir.Conversion, owner: str) -> Conversion:
        entity = node.entity.name if node.entity else self._shared_entity(node)
        start_filter, end_filter = checked_filter(node.start.filter), checked_filter(
            node.end.filter)
        key = (entity, node.start.source.name, start_filter, node.end.source.name, end_filter,
               node.within.seconds)
        if key not in self.conversions:
            self.conversions[key] = Conversion(
                name=self._fresh(f"{owner}__conv"), entity=entity,
                start_source=node.start.source.name, start_filter=start_filter,
                end_source=node.end.source.name, end_filter=end_filter,
                within_seconds=node.within.seconds)
        return self.conversions[key]

    def _shared_entity(self, node: ir.Conversion) -> str:
        start = self.index.sources[node.start.source.name]
        end = self.index.sources[node.end.source.name]
        end_names = {e.name for e in end.entities}
        for entity in start.entities:
            if entity.name in end_names:
                return entity.name
        raise InternalError(f"conversion from `{start.name}` to `{end.name}` has no shared "
                            "entity", "MS409")

    def _fresh(self, name: str) -> str:
        base, n = name, 2
        while name in self._names:
            name, n = f"{base}_{n}", n + 1
        self._names.add(name)
        return name
