"""The vectorised fast path agrees with the general delta-method/CUPED path."""

from __future__ import annotations

import numpy as np
import pytest

from metricspec.stats import (
    Component,
    MetricKind,
    MetricSpec,
    Moments,
    SegmentData,
    VariantData,
)
from metricspec.stats.batch import batch_prepare
from metricspec.stats.prepare import Prepared, prepare

ARMS = ("control", "a", "b")
SPECS = [
    MetricSpec("m"),
    MetricSpec("p", MetricKind.PROPORTION),
    MetricSpec("r", MetricKind.RATIO),
    MetricSpec("mc", cuped={"mc.x": "mc.c"}),
    MetricSpec("pc", MetricKind.PROPORTION, cuped={"pc.x": "pc.c"}),
    MetricSpec("rc", MetricKind.RATIO, cuped={"rc.x": "rc.c", "rc.y": "rc.d"}),
    MetricSpec("alias", formula=Component("m.x") / Component("m.y")),  # another metric's data
]


def _segment(seed: int) -> SegmentData:
    rng = np.random.default_rng(seed)
    variants = {}
    for arm in ARMS:
        n = int(rng.integers(20, 400))
        x = rng.gamma(2.0, 3.0, n)
        y = x + rng.gamma(1.0, 2.0, n)
        c = x * rng.uniform(0.5, 1.5, n)
        d = y * rng.uniform(0.5, 1.5, n)
        b = (rng.random(n) < 0.3).astype(float)
        full = {"x": x, "y": y, "c": c, "d": d}
        moments = {
            name: Moments.from_units({f"{name}.{k}": v for k, v in full.items()})
            for name in ("m", "r", "mc", "rc")
        }
        moments["p"] = Moments.from_units({"p.x": b})
        moments["pc"] = Moments.from_units({"pc.x": b, "pc.c": (rng.random(n) < 0.3) * 1.0})
        variants[arm] = VariantData(moments)
    return SegmentData("all", None, variants)


def _same(fast: Prepared, slow: Prepared) -> None:
    assert fast.reason == slow.reason
    assert (fast.n_control, fast.n_treatment) == (slow.n_control, slow.n_treatment)
    assert (fast.use_t, fast.plugin_adjusted) == (slow.use_t, slow.plugin_adjusted)
    assert (fast.pair is None) == (slow.pair is None)
    if fast.pair and slow.pair:
        for a, b in zip(fast.pair, slow.pair, strict=True):
            for field in ("n", "value", "base", "var", "cov_base", "var_base"):
                assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-11, abs=1e-14)
    if slow.cuped is not None:
        assert fast.cuped is not None
        assert fast.cuped.theta == pytest.approx(slow.cuped.theta, rel=1e-11)
        assert fast.cuped.theta_method == slow.cuped.theta_method
        assert fast.cuped.variance_reduction == pytest.approx(
            slow.cuped.variance_reduction, rel=1e-9, abs=1e-12
        )


@pytest.mark.parametrize("seed", range(8))
def test_fast_path_equals_general_path(seed: int) -> None:
    seg = _segment(seed)
    fast = batch_prepare(SPECS, seg, "control", ("a", "b"))
    assert set(fast) == {s.name for s in SPECS}
    for spec in SPECS:
        slow = prepare(spec, seg, "control", ("a", "b"))
        for f, s in zip(fast[spec.name], slow, strict=True):
            _same(f, s)


def test_unusual_data_is_left_to_the_general_path() -> None:
    seg = _segment(1)
    broken = dict(seg.variants)
    m = broken["a"].moments["r"]
    no_xy = {k: v for k, v in m.products.items() if k != ("r.x", "r.y")}
    zero_y = Moments(m.n, {**m.sums, "r.y": 0.0}, m.products)
    tiny = Moments(1, {"m.x": 1.0, "m.y": 1.0}, {("m.x", "m.x"): 1.0})
    for variant, metric, moments in (
        ("a", "r", Moments(m.n, m.sums, no_xy)),
        ("b", "rc", zero_y),
        ("control", "m", tiny),
    ):
        data = broken[variant]
        broken[variant] = VariantData({**data.moments, metric: moments})
    seg2 = SegmentData("all", None, broken)
    fast = batch_prepare(SPECS, seg2, "control", ("a", "b"))
    assert "r" not in fast and "m" not in fast and "alias" not in fast
    assert "p" in fast and "mc" in fast
    assert batch_prepare(SPECS, seg2, "control", ("a", "missing")) == {}
    assert "missing sum of products" in (prepare(SPECS[2], seg2, "control", ("a",))[0].reason or "")


def test_derived_and_quantile_metrics_are_not_batched() -> None:
    seg = _segment(2)
    derived = MetricSpec("d", MetricKind.DERIVED, formula=Component("m.x") + Component("r.x"))
    quantile = MetricSpec("q", MetricKind.QUANTILE, quantile_level=0.5)
    assert batch_prepare([derived, quantile], seg, "control", ("a",)) == {}
