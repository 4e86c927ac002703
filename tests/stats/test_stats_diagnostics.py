"""Diagnostics from daily sums against independent computations: scipy's χ², statsmodels'
WLS for the trend, Welch's t, and the engine's own ratio lift for each cumulative point."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps

from metricspec.stats import ExperimentConfig, MetricKind, MetricSpec, Moments, analyze
from metricspec.stats.data import ExperimentData, SegmentData, VariantData
from metricspec.stats.diagnostics import diagnose
from metricspec.stats.novelty import DaySums, cohort_trend, cumulative_point, day_effect

SPLIT = {"control": 0.5, "treatment": 0.5}


def _sums(x, y=None) -> DaySums:
    x = np.asarray(x, float)
    if y is None:
        return DaySums(len(x), x.sum(), (x * x).sum())
    y = np.asarray(y, float)
    return DaySums(len(x), x.sum(), (x * x).sum(), y.sum(), (y * y).sum(), (x * y).sum())


def test_day_effect_of_a_mean_is_welch() -> None:
    rng = np.random.default_rng(1)
    c, t = rng.gamma(2, 2, 300), rng.gamma(2, 2.3, 280)
    e = day_effect(0, _sums(c), _sums(t), "mean")
    welch = sps.ttest_ind(t, c, equal_var=False)
    assert e.effect / e.se == pytest.approx(welch.statistic, rel=1e-10)
    assert e.df == pytest.approx(welch.df, rel=1e-10)


def test_cumulative_ratio_lift_equals_the_engine() -> None:
    rng = np.random.default_rng(2)
    arms = {}
    for name, scale in (("control", 1.0), ("treatment", 1.1)):
        y = rng.poisson(3, 500) + 1
        x = rng.binomial(y, 0.6 * scale)
        arms[name] = (x, y)
    point = cumulative_point(5, "control", "treatment",
                             {k: _sums(*v) for k, v in arms.items()}, "ratio", 0.05)
    variants = {k: VariantData(moments={"r": Moments.from_units({"r.x": x, "r.y": y})},
                               units=len(x)) for k, (x, y) in arms.items()}
    config = ExperimentConfig(control="control", variants={"control": 50, "treatment": 50})
    engine = analyze(config, [MetricSpec("r", MetricKind.RATIO)],
                     ExperimentData((SegmentData("all", None, variants),))).metrics[0]
    assert point.lift == pytest.approx(engine.relative.estimate, rel=1e-10)
    assert point.ci_low == pytest.approx(engine.relative.ci_lower, rel=1e-8)
    assert point.ci_high == pytest.approx(engine.relative.ci_upper, rel=1e-8)
    assert point.n == {"control": 500, "treatment": 500}


def test_cohort_trend_of_a_mean_is_welch_on_the_units_own_slopes() -> None:
    rng = np.random.default_rng(3)
    horizon = 7
    c_d = (np.arange(horizon) - 3) / 28.0
    panels = [rng.poisson(rng.gamma(2, 1, (n, 1)) * (1 + s * np.arange(horizon)))
              for n, s in ((400, 0.0), (380, -0.05))]
    days = [tuple(DaySums(len(p), float(p[:, d].sum()), 0.0) for p in panels)
            for d in range(horizon)]
    units = []
    for p in panels:
        u = (p - p.mean(axis=0)) @ c_d
        units.append(DaySums(len(p), float(u.sum()), float((u * u).sum())))
    ours = cohort_trend(days, (units[0], units[1]), "mean", 0.05, overall=-0.1)
    own = [p @ c_d for p in panels]  # each unit's least-squares slope on the day index
    welch = sps.ttest_ind(own[1], own[0], equal_var=False)
    assert ours.slope == pytest.approx(own[1].mean() - own[0].mean(), rel=1e-10)
    assert ours.slope / ours.se == pytest.approx(welch.statistic, rel=1e-10)
    assert ours.p_value == pytest.approx(welch.pvalue, rel=1e-8)
    assert ours.flagged == (welch.pvalue < 0.05)
    if ours.flagged:  # against the overall effect's sign (−0.1): novelty, else primacy
        assert ours.pattern == ("novelty" if ours.slope > 0 else "primacy")
    short = cohort_trend(days[:2], (units[0], units[1]), "mean", 0.05, None)
    assert short.reason.startswith("insufficient data")


def _rows(by_day: dict[int, tuple[int, int]], unknown: dict[int, int] | None = None):
    rows = []
    for day, (c, t) in by_day.items():
        rows += [{"kind": "exposures", "day": day, "variant": "control", "n": c},
                 {"kind": "exposures", "day": day, "variant": "treatment", "n": t}]
    for day, n in (unknown or {}).items():
        rows.append({"kind": "unknown", "day": day, "variant": "treatment_v2", "n": n})
    if unknown:
        rows.append({"kind": "unknown_total", "day": None, "variant": "treatment_v2",
                     "n": sum(unknown.values())})
    return rows


def test_srm_by_day_finds_where_the_split_broke() -> None:
    counts = {d: (500, 505) for d in range(5)} | {d: (500, 380) for d in range(5, 10)}
    diag = diagnose(_rows(counts), control="control", split=SPLIT, kinds={})
    p = [sps.chisquare([c, t]).pvalue for c, t in counts.values()]
    assert [d.p_value for d in diag.by_day] == pytest.approx(p, rel=1e-10)
    holm = sm.stats.multipletests(p, method="holm")[1]
    assert [d.adjusted_p for d in diag.by_day] == pytest.approx(holm, rel=1e-10)
    assert diag.first_flagged_day == 5
    assert diag.srm_with_unknown == "passed"
    assert any("first mismatch on day 5" in w for w in diag.warnings())


def test_unknown_variants_are_counted_and_fail_the_split() -> None:
    counts = {d: (500, 505) for d in range(4)}
    diag = diagnose(_rows(counts, {2: 7, 3: 5}), control="control", split=SPLIT, kinds={})
    assert diag.unknown_variants == {"treatment_v2": 12}
    assert diag.first_unknown_day == 2
    assert diag.srm_with_unknown == "failed"
    assert diag.by_day[2].unknown == 7
    assert any("undeclared variants" in w for w in diag.warnings())
    assert diag.to_dict()["warnings"] == list(diag.warnings())
