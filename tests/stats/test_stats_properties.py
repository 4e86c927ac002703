"""Property tests: analysis never raises and never returns NaN/inf on non-negative moments."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metricspec.stats import (
    Component,
    Correction,
    Direction,
    ExperimentConfig,
    ExperimentData,
    Margin,
    MetricKind,
    MetricSpec,
    Moments,
    QuantileMoments,
    Role,
    VariantData,
    Verdict,
    analyze,
)

value = st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False)
small = st.floats(min_value=0.0, max_value=50.0, allow_nan=False, allow_infinity=False)
count = st.integers(min_value=0, max_value=10**6)
PARTS = ("x", "y", "c", "d")


@st.composite
def moments(draw: st.DrawFn, metric: str) -> Moments:
    names = [f"{metric}.{p}" for p in PARTS]
    sums = {k: draw(value) for k in names}
    products = {(a, b): draw(value) for i, a in enumerate(names) for b in names[i:]}
    return Moments(draw(count), sums, products)


@st.composite
def consistent_moments(draw: st.DrawFn, metric: str) -> Moments:
    """Moments of actual (small) unit-level data, so variances are usually positive."""
    n = draw(st.integers(min_value=0, max_value=12))
    cols = {f"{metric}.{p}": [draw(small) for _ in range(n)] for p in PARTS}
    return Moments.from_units(cols) if n else Moments(0, dict.fromkeys(cols, 0.0), {})


quantiles = st.builds(
    QuantileMoments,
    n_units=count,
    quantile=value,
    quantile_lower=value,
    quantile_upper=value,
    n_star=st.integers(min_value=0, max_value=10**6),
    sum_events=value,
    sum_events2=st.none() | value,
    sum_below=st.none() | value,
    sum_below2=st.none() | value,
    sum_below_events=st.none() | value,
)

SPECS = [
    MetricSpec("a", role=Role.PRIMARY),
    MetricSpec("b", MetricKind.PROPORTION),
    MetricSpec("c", MetricKind.RATIO),
    MetricSpec("a_cuped", formula=Component("a.x"), cuped={"a.x": "a.c"}),
    MetricSpec(
        "c_cuped",
        MetricKind.RATIO,
        formula=Component("c.x") / Component("c.y"),
        cuped={"c.x": "c.c", "c.y": "c.d"},
    ),
    MetricSpec(
        "d",
        MetricKind.DERIVED,
        formula=0.5 * (Component("a.x") / Component("a.y")) + 0.5 * (1 - Component("c.x")),
    ),
    MetricSpec(
        "q",
        MetricKind.QUANTILE,
        quantile_level=0.9,
        role=Role.GUARDRAIL,
        direction=Direction.DECREASE,
        margin=Margin(0.1),
    ),
    MetricSpec("g", role=Role.GUARDRAIL, margin=Margin(0.02, relative=False)),
]


def _all_floats(obj: Any) -> list[float]:
    if isinstance(obj, float):
        return [obj]
    if isinstance(obj, dict):
        return [f for v in obj.values() for f in _all_floats(v)]
    if isinstance(obj, list):
        return [f for v in obj for f in _all_floats(v)]
    return []


def _check(config: ExperimentConfig, arms: dict[str, VariantData]) -> None:
    specs = [
        *SPECS[:-1],
        MetricSpec(
            "g", role=Role.GUARDRAIL, margin=Margin(0.02, relative=False), formula=Component("b.x")
        ),
    ]
    result = analyze(config, specs, ExperimentData.single(arms))
    out = result.to_dict()
    json.dumps(out, allow_nan=False)
    assert all(math.isfinite(f) for f in _all_floats(out))
    for r in result.metrics:
        assert (r.verdict is Verdict.INSUFFICIENT) == (r.absolute is None)
        if r.absolute is not None:
            assert r.reason is None
            assert 0.0 <= r.p_value <= 1.0 and 0.0 <= r.adjusted_p_value <= 1.0
            assert r.absolute.ci_lower <= r.absolute.estimate <= r.absolute.ci_upper
        else:
            assert r.reason


def _arm(draw: st.DrawFn, strategy: Any) -> VariantData:
    return VariantData(
        {m: draw(strategy(m)) for m in ("a", "b", "c")},
        {("a", "c"): draw(strategy("a")), ("a", "b"): draw(strategy("b"))},
        {"q": draw(quantiles)},
        units=draw(st.none() | count),
    )


CONFIGS = st.builds(
    ExperimentConfig,
    control=st.just("control"),
    variants=st.just({"control": 1.0, "t1": 1.0, "t2": 2.0}),
    correction=st.sampled_from(list(Correction)),
    sequential=st.booleans(),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), config=CONFIGS)
def test_arbitrary_moments_never_break_analysis(
    data: st.DataObject, config: ExperimentConfig
) -> None:
    arms = {v: _arm(data.draw, moments) for v in ("control", "t1", "t2")}
    _check(config, arms)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), config=CONFIGS)
def test_consistent_small_samples_never_break_analysis(
    data: st.DataObject, config: ExperimentConfig
) -> None:
    arms = {v: _arm(data.draw, consistent_moments) for v in ("control", "t1", "t2")}
    _check(config, arms)
