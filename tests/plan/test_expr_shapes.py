"""The expression language's one traversal (`ir.children`, `ir.replace`, `ir.walk`) and its
one shape classifier (`ir.shape`), over every metric of specs/ and every form of the
language, and the stages that ask it: the experiment plan and the `winsorize` check agree
with it by construction."""

from __future__ import annotations

import pytest

from metricspec import ir
from metricspec.check.compilable import _uncappable
from metricspec.plan.experiment import plan_experiment
from metricspec.semantic import Index

S = ir.Span.unknown()


def _agg(func: str, column: str | None = "x") -> ir.Aggregate:
    return ir.Aggregate(span=S, func=func, source=ir.Ref(span=S, name="t"),  # type: ignore[arg-type]
                        column=ir.Ref(span=S, name=column) if column else None,
                        quantile=0.9 if func == "quantile" else None)


def _div(left: ir.Expr, right: ir.Expr) -> ir.BinaryOp:
    return ir.BinaryOp(span=S, op="/", left=left, right=right)


EVENTS = ir.EventSet(span=S, source=ir.Ref(span=S, name="t"))
DAY = ir.Duration(span=S, value=1, unit="day")
FORMS: list[tuple[ir.Expr, ir.Shape]] = [
    (ir.Number(span=S, value=2), "constant"),
    (_agg("count", None), "simple"),
    (_agg("sum"), "simple"),
    (_agg("count_distinct"), "simple"),
    (_agg("avg"), "average"),
    (_agg("min"), "extreme"),
    (_agg("max"), "extreme"),
    (_agg("quantile"), "percentile"),
    (_div(_agg("sum"), _agg("count", None)), "ratio"),
    (_div(_agg("avg"), _agg("count", None)), "derived"),
    (_div(_agg("sum"), ir.Number(span=S, value=2)), "derived"),
    (ir.BinaryOp(span=S, op="-", left=_agg("sum"), right=_agg("sum")), "derived"),
    (ir.Negate(span=S, operand=_agg("sum")), "derived"),
    (ir.MetricRef(span=S, name="m"), "derived"),
    (ir.Conversion(span=S, start=EVENTS, end=EVENTS, within=DAY), "conversion"),
    (ir.Weighted(span=S, terms=(ir.WeightedTerm(span=S, expr=_agg("sum"), weight=1.0),)),
     "weighted"),
    (ir.Window(span=S, mode="rolling", expr=_agg("sum"), length=DAY), "rolling"),
    (ir.Window(span=S, mode="cumulative", expr=_agg("sum")), "cumulative"),
]


@pytest.mark.parametrize(("expr", "expected"), FORMS, ids=[f"{e.kind}-{s}" for e, s in FORMS])
def test_shape_of_every_form(expr: ir.Expr, expected: str) -> None:
    assert ir.shape(expr) == expected


def test_specs_cover_the_shapes_metrics_are_written_in(index: Index) -> None:
    shapes = {name: ir.shape(m.expr) for name, m in index.metrics.items()}
    assert {shapes[n] for n in shapes} == {"simple", "average", "percentile", "ratio",
                                           "conversion", "weighted", "rolling", "cumulative",
                                           "derived"}
    assert (shapes["csat"], shapes["latency_p95"], shapes["csat_score"], shapes["trust_score"],
            shapes["thumbs_up_within_a_day"], shapes["csat_7d"], shapes["cumulative_cost"],
            shapes["deflection_rate"]) == ("ratio", "percentile", "average", "weighted",
                                           "conversion", "rolling", "cumulative", "derived")


def _walk_by_recursion(expr: ir.Expr) -> list[ir.Expr]:
    return [expr, *(n for c in ir.children(expr) for n in _walk_by_recursion(c))]


def test_children_replace_and_walk_over_every_metric(index: Index) -> None:
    one = ir.Number(span=S, value=1)
    for metric in index.metrics.values():
        for expr in (metric.expr, index.expand(metric.expr)):
            assert ir.walk(expr) == _walk_by_recursion(expr)
            assert ir.replace(expr, lambda c: c) == expr
            # replacing every child by a constant leaves the node and its arity
            replaced = ir.replace(expr, lambda _: one)
            assert replaced.kind == expr.kind
            assert ir.children(replaced) == tuple(one for _ in ir.children(expr))


def test_children_of_every_form() -> None:
    arity = {"number": 0, "aggregate": 0, "metric_ref": 0, "conversion": 0, "binary": 2,
             "negate": 1, "weighted": 1, "window": 1}
    for expr, _ in FORMS:
        assert len(ir.children(expr)) == arity[expr.kind], expr.kind


def test_expansion_leaves_no_reference_to_a_known_metric(index: Index) -> None:
    for metric in index.metrics.values():
        expanded = index.expand(metric.expr)
        assert not [r for r in ir.metric_refs(expanded) if r.name in index.metrics]


def test_the_experiment_plan_analyses_directly_exactly_the_base_shapes(index: Index) -> None:
    """A metric is analysed as one base metric iff its expanded shape is a base shape."""
    seen = 0
    for name in index.experiments:
        for metric in plan_experiment(index, name).metrics:
            shape = ir.shape(index.expand(metric.metric.expr))
            assert (metric.kind != "derived") == (shape in ir.BASE_SHAPES), (metric.name, shape)
            seen += 1
    assert seen


@pytest.mark.parametrize(("expr", "expected"), FORMS, ids=[f"{e.kind}-{s}" for e, s in FORMS])
def test_winsorize_accepts_the_shapes_with_a_per_unit_sum(expr: ir.Expr, expected: str) -> None:
    assert (_uncappable(expr) is None) == (expected in ("simple", "average", "ratio"))
