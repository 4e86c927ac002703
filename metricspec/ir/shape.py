"""The one classifier of metric shapes: what kind of computation an expression is.

Check (what an experiment, a monitor or `winsorize` accepts), plan (which base metric an
experiment analyses), analysis and the docs catalog all ask `shape`, so they cannot
disagree about what a metric is. It classifies the expression as given: callers that
care about what a metric is made of pass it expanded (`Index.expand`).
"""

from __future__ import annotations

from typing import Literal

from metricspec.ir.expr import (
    Aggregate,
    BinaryOp,
    Conversion,
    Expr,
    Number,
    Weighted,
    Window,
    walk,
)

Shape = Literal["constant", "simple", "average", "extreme", "percentile", "ratio",
                "conversion", "weighted", "rolling", "cumulative", "derived"]

#: Aggregates that are a sum of per-unit values (a count, a sum, a count of distinct units).
PLAIN = ("count", "count_distinct", "sum")
#: Shapes that are one unit-level value or a ratio of two: what an experiment analyses
#: directly (everything else is derived from these, or not analysable).
BASE_SHAPES = ("simple", "average", "percentile", "ratio", "conversion")


def shape(expr: Expr) -> Shape:
    """The shape of an expression.

    - `constant`: a number; `simple`: count, count_distinct or sum; `average`: avg;
      `extreme`: min or max; `percentile`: a quantile;
    - `ratio`: one plain aggregate divided by another;
    - `conversion`, `weighted`, `rolling`, `cumulative`: the special forms;
    - `derived`: anything else (arithmetic over metrics or aggregates, a metric reference).

    >>> from metricspec.ir.base import Span
    >>> from metricspec.ir.expr import Ref
    >>> s = Span.unknown()
    >>> def agg(func): return Aggregate(span=s, func=func, source=Ref(span=s, name="t"))
    >>> shape(agg("count")), shape(agg("max")), shape(Number(span=s, value=1))
    ('simple', 'extreme', 'constant')
    >>> shape(BinaryOp(span=s, op="/", left=agg("sum"), right=agg("count")))
    'ratio'
    >>> shape(BinaryOp(span=s, op="/", left=agg("avg"), right=agg("count")))
    'derived'
    """
    if isinstance(expr, Number):
        return "constant"
    if isinstance(expr, Aggregate):
        if expr.func in PLAIN:
            return "simple"
        if expr.func == "avg":
            return "average"
        return "percentile" if expr.func == "quantile" else "extreme"
    if isinstance(expr, BinaryOp) and expr.op == "/" and all(
            isinstance(side, Aggregate) and side.func in PLAIN
            for side in (expr.left, expr.right)):
        return "ratio"
    if isinstance(expr, Conversion):
        return "conversion"
    if isinstance(expr, Weighted):
        return "weighted"
    if isinstance(expr, Window):
        return expr.mode
    return "derived"


def qualifiers(expr: Expr) -> tuple[str, ...]:
    """What a metric's value is besides its shape, for labels: `approximate` (a
    HyperLogLog distinct count inside it), `semi-additive` (a balance over snapshots).
    Pass the expression expanded to see through metric references.

    >>> from metricspec.ir.base import Span
    >>> from metricspec.ir.expr import Ref
    >>> s = Span.unknown()
    >>> qualifiers(Aggregate(span=s, func="count_distinct", source=Ref(span=s, name="t"),
    ...                      column=Ref(span=s, name="u"), approximate=True))
    ('approximate',)
    """
    nodes = [n for n in walk(expr) if isinstance(n, Aggregate)]
    found = (("approximate", any(n.approximate for n in nodes)),
             ("semi-additive", any(n.semi is not None for n in nodes)))
    return tuple(word for word, present in found if present)
