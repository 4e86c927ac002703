"""Metric expressions: arithmetic over metrics, aggregations of source columns, and the
special forms (weighted composites, conversions, rolling and cumulative windows, offsets)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import Field

from metricspec.ir.base import Node, Span

TimeUnit = Literal["minute", "hour", "day", "week", "month", "quarter", "year",
                   "fiscal_quarter", "fiscal_year"]
#: Calendar units have no fixed length: theirs here is the longest one can be (a bound for
#: lookbacks and limits, never a window's meaning; see plan.calendar).
#: The units of a fixed length (the others are calendar units).
FIXED_UNITS = frozenset({"minute", "hour", "day", "week"})
SECONDS: dict[str, int] = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800,
                           "month": 31 * 86400, "quarter": 92 * 86400, "year": 366 * 86400,
                           "fiscal_quarter": 92 * 86400, "fiscal_year": 366 * 86400}


class Ref(Node):
    """A reference by name to another spec object (metric, source, column, entity…)."""

    name: str


class Duration(Node):
    """A length of time such as `7 days` or `5 minutes`."""

    value: int
    unit: TimeUnit

    @property
    def seconds(self) -> int:
        return self.value * SECONDS[self.unit]

    def __str__(self) -> str:
        return f"{self.value} {self.unit}{'' if self.value == 1 else 's'}"


class Amount(Node):
    """A number as written: plain (`3000`), percent (`15%`) or percentage points (`0.5pp`)."""

    value: float
    kind: Literal["number", "percent", "pp"] = "number"

    @property
    def fraction(self) -> float:
        """The value as a plain number: `15%` and `15pp` are both 0.15."""
        return self.value / 100.0 if self.kind in ("percent", "pp") else self.value

    def __str__(self) -> str:
        number = f"{self.value:g}"
        return {"number": number, "percent": f"{number}%", "pp": f"{number}pp"}[self.kind]


class Filter(Node):
    """A `where` condition: SQL text, checked against the safe subset by `check.filters`.

    `sql` usually sits in its file exactly as written, starting at `span`. When it does not
    (a YAML block or escaped scalar), `layout_spans` are the runs of its characters in order,
    each a stretch of one line, so a position inside the SQL maps back to the file.
    """

    sql: str
    layout_spans: tuple[Span, ...] = ()


class Number(Node):
    kind: Literal["number"] = "number"
    value: float


class MetricRef(Node):
    kind: Literal["metric_ref"] = "metric_ref"
    name: str


class BinaryOp(Node):
    kind: Literal["binary"] = "binary"
    op: Literal["+", "-", "*", "/"]
    left: Expr
    right: Expr


class Negate(Node):
    kind: Literal["negate"] = "negate"
    operand: Expr


AggFunc = Literal["count", "count_distinct", "sum", "avg", "min", "max", "quantile"]


class SemiAdditive(Node):
    """`last per queue_id` inside an aggregate: a balance-type (semi-additive) measure that
    aggregates only each period's last (or first) snapshot rows, per entity in `per`
    (see docs/language.md, "Time")."""

    choice: Literal["first", "last"]
    per: tuple[Ref, ...] = ()


class Aggregate(Node):
    """`count(feedback where …)`, `sum(messages.cost_usd)`, `p95(messages.latency_ms)`…

    Options after a comma: `approximate` (a HyperLogLog distinct count where the backend
    has one) and `first`/`last` [`per` entities] (a semi-additive measure, `semi`)."""

    kind: Literal["aggregate"] = "aggregate"
    func: AggFunc
    source: Ref
    column: Ref | None = None
    quantile: float | None = None
    filter: Filter | None = None
    approximate: bool = False
    semi: SemiAdditive | None = None


class WeightedTerm(Node):
    expr: Expr
    weight: float


class Weighted(Node):
    """A composite index: Σ weight·term, e.g. a trust score."""

    kind: Literal["weighted"] = "weighted"
    terms: tuple[WeightedTerm, ...]


class EventSet(Node):
    source: Ref
    filter: Filter | None = None


class Conversion(Node):
    """Share of units with an event of `start` followed by one of `end` within `within`."""

    kind: Literal["conversion"] = "conversion"
    start: EventSet
    end: EventSet
    within: Duration
    entity: Ref | None = None


class Window(Node):
    """`rolling(m, 7 days)` or `cumulative(m)`: a metric over a moving or growing window.
    `to_date(m, month)` is a cumulative window whose `length` (one calendar period) says
    where it restarts."""

    kind: Literal["window"] = "window"
    mode: Literal["rolling", "cumulative"]
    expr: Expr
    length: Duration | None = None


OffsetUnit = Literal["minute", "hour", "day", "week", "month", "quarter", "year"]
#: Calendar units of an offset, in months (the others are fixed lengths, in `SECONDS`).
MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}


class _Shift(Node):
    """A length of time to look back by: fixed (minutes to weeks) or calendar months."""

    amount: int
    unit: OffsetUnit

    @property
    def seconds(self) -> int | None:
        """The length, for fixed units (None for months, quarters and years)."""
        return self.amount * SECONDS[self.unit] if self.unit in FIXED_UNITS else None

    @property
    def months(self) -> int | None:
        """The length in calendar months (None for fixed units)."""
        return self.amount * MONTHS[self.unit] if self.unit in MONTHS else None

    @property
    def length(self) -> str:
        return f"{self.amount} {self.unit}{'' if self.amount == 1 else 's'}"


class Offset(_Shift):
    """`offset(m, 1 week)`: m at the period that far earlier; `growth(m, 1 year)`:
    m / offset(m, 1 year) − 1 (see docs/language.md, "Time")."""

    kind: Literal["offset"] = "offset"
    mode: Literal["offset", "growth"]
    expr: Expr


class PeriodOffset(_Shift):
    """A monitor's `baseline offset 1 week` (or `baseline same period last week`): each
    window is compared with the same window that far earlier."""

    def __str__(self) -> str:
        return f"offset {self.length}"


Expr = Annotated[
    Number | MetricRef | BinaryOp | Negate | Aggregate | Weighted | Conversion | Window | Offset,
    Field(discriminator="kind"),
]

for _model in (BinaryOp, Negate, WeightedTerm, Weighted, Window, Offset):
    _model.model_rebuild()


# The fields of each form that hold sub-expressions; `Weighted` holds them in its terms.
# A new form with sub-expressions adds one entry here (and `children`/`replace` follow).
_EXPR_FIELDS: dict[type, tuple[str, ...]] = {
    BinaryOp: ("left", "right"), Negate: ("operand",), Window: ("expr",), Offset: ("expr",),
}


def children(expr: Expr) -> tuple[Expr, ...]:
    """The sub-expressions directly inside `expr`, in order (none for a leaf).

    >>> from metricspec.ir.base import Span
    >>> s = Span.unknown()
    >>> [c.kind for c in children(Negate(span=s, operand=Number(span=s, value=1)))]
    ['number']
    """
    if isinstance(expr, Weighted):
        return tuple(term.expr for term in expr.terms)
    return tuple(getattr(expr, name) for name in _EXPR_FIELDS.get(type(expr), ()))


def replace(expr: Expr, fn: Callable[[Expr], Expr]) -> Expr:
    """`expr` with each direct sub-expression `c` replaced by `fn(c)` (a leaf as it is).

    >>> from metricspec.ir.base import Span
    >>> s = Span.unknown()
    >>> e = BinaryOp(span=s, op="+", left=MetricRef(span=s, name="a"),
    ...              right=Number(span=s, value=2))
    >>> one = Number(span=s, value=1)
    >>> [c.kind for c in children(replace(e, lambda c: one))]
    ['number', 'number']
    """
    if isinstance(expr, Weighted):
        terms = tuple(t.model_copy(update={"expr": fn(t.expr)}) for t in expr.terms)
        return expr.model_copy(update={"terms": terms})
    names = _EXPR_FIELDS.get(type(expr), ())
    if not names:
        return expr
    return expr.model_copy(update={name: fn(getattr(expr, name)) for name in names})


def walk(expr: Expr) -> list[Expr]:
    """Every node of an expression, parents before children.

    >>> from metricspec.ir.base import Span
    >>> s = Span.unknown()
    >>> one, r = Number(span=s, value=1), MetricRef(span=s, name="r")
    >>> e = BinaryOp(span=s, op="-", left=one, right=r)
    >>> [n.kind for n in walk(e)]
    ['binary', 'number', 'metric_ref']
    """
    out: list[Expr] = []
    stack: list[Expr] = [expr]
    fields = _EXPR_FIELDS
    while stack:
        node = stack.pop()
        out.append(node)
        # `children`, inlined: check rules walk every expression of the project many times
        names = fields.get(type(node))
        if names is not None:
            values = node.__dict__
            stack.extend([values[name] for name in reversed(names)])
        elif type(node) is Weighted:
            stack.extend([term.expr for term in reversed(node.terms)])
    return out


def metric_refs(expr: Expr) -> list[MetricRef]:
    """The metrics an expression refers to, in order of appearance."""
    return [n for n in walk(expr) if isinstance(n, MetricRef)]
