"""Regression adjustment with several covariates, from sums, against statsmodels OLS on the
unit rows (HC0/HC1 exactly) and against the engine's own CUPED (one covariate)."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from metricspec.stats import ExperimentConfig, MetricSpec, Moments, analyze
from metricspec.stats.data import ExperimentData, SegmentData, VariantData
from metricspec.stats.regression import (
    ArmSums,
    cuped_adjust,
    monomials,
    ols_adjust,
    unit_sums,
)

COVARIATES = ("pre_revenue", "tenure_days", "tokens_per_second")


def _arms(seed: int, n_c: int = 700, n_t: int = 650, effect: float = 0.4):
    """Heteroscedastic outcomes with three correlated covariates, unequal arms."""
    rng = np.random.default_rng(seed)
    out = []
    for n, t in ((n_c, 0.0), (n_t, 1.0)):
        pre = rng.gamma(2.0, 3.0, n)
        tenure = rng.integers(0, 900, n).astype(float)
        tps = 20 + 5 * rng.standard_normal(n) + 0.3 * pre
        noise = rng.standard_normal(n) * (0.5 + 0.2 * pre + t)  # variance differs by arm
        y = 1.0 + effect * t + 0.8 * pre + 0.002 * tenure - 0.05 * tps + noise
        out.append((y, np.column_stack([pre, tenure, tps])))
    return out


def _statsmodels(arms, cov_type: str):
    (yc, xc), (yt, xt) = arms
    y = np.concatenate([yc, yt])
    treat = np.concatenate([np.zeros(len(yc)), np.ones(len(yt))])
    design = np.column_stack([np.ones(len(y)), treat, np.vstack([xc, xt])])
    return sm.OLS(y, design).fit(cov_type=cov_type)


def _close(a: float, b: float, rel: float = 1e-8) -> None:
    assert a == pytest.approx(b, rel=rel, abs=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("hc", ["HC0", "HC1"])
@pytest.mark.parametrize("p", [1, 2, 3])
def test_ols_from_sums_equals_statsmodels(seed: int, hc: str, p: int) -> None:
    arms = [(y, x[:, :p]) for y, x in _arms(seed)]
    names = COVARIATES[:p]
    control, treatment = (unit_sums(y, x, names, order=4) for y, x in arms)
    ours = ols_adjust(control, treatment, names, hc=hc)
    fit = _statsmodels(arms, hc)
    _close(ours.effect, fit.params[1])
    _close(ours.se, fit.bse[1])
    _close(ours.p_value, fit.pvalues[1])
    lo, hi = fit.conf_int(alpha=0.05)[1]
    _close(ours.ci_lower, lo)
    _close(ours.ci_upper, hi)
    for j in range(p):
        _close(ours.theta[j], fit.params[2 + j])
    # the adjusted means sit at the pooled covariate means
    x_bar = np.vstack([a[1] for a in arms]).mean(axis=0)
    _close(ours.control_mean, fit.params[0] + fit.params[2:] @ x_bar)


def test_hc2_cannot_come_from_sums() -> None:
    arms = _arms(4)
    control, treatment = (unit_sums(y, x, COVARIATES, order=4) for y, x in arms)
    with pytest.raises(ValueError, match="HC0 and HC1"):
        ols_adjust(control, treatment, COVARIATES, hc="HC2")
    # and it does differ from HC1: the leverages are per unit
    assert _statsmodels(arms, "HC2").bse[1] != pytest.approx(
        ols_adjust(control, treatment, COVARIATES).se, rel=1e-6)


def test_one_covariate_cuped_equals_engine_cuped() -> None:
    arms = _arms(5)
    sums, variants = [], {}
    for name, (y, x) in zip(("control", "treatment"), arms, strict=True):
        sums.append(unit_sums(y, x[:, :1], ["c"], order=2))
        m = Moments.from_units({"rev.x": y, "rev.c": x[:, 0]})
        variants[name] = VariantData(moments={"rev": m}, units=len(y))
    config = ExperimentConfig(control="control", variants={"control": 50, "treatment": 50},
                              srm_alpha=1e-12)
    data = ExperimentData((SegmentData("all", None, variants),))
    engine = analyze(config, [MetricSpec("rev", cuped={"rev.x": "rev.c"})], data).metrics[0]
    ours = cuped_adjust(sums[0], sums[1], ["c"])
    _close(ours.theta[0], engine.cuped.theta)
    _close(ours.effect, engine.absolute.estimate)
    _close(ours.se, engine.absolute.se)
    _close(ours.df, engine.conventions.df)
    _close(ours.p_value, engine.p_value)
    _close(ours.ci_lower, engine.absolute.ci_lower)
    _close(ours.variance_reduction, engine.cuped.variance_reduction)
    _close(ours.control_mean, engine.control.value)


def test_more_covariates_reduce_variance_more() -> None:
    arms = _arms(6)
    one = cuped_adjust(*(unit_sums(y, x[:, :1], COVARIATES[:1]) for y, x in arms),
                       COVARIATES[:1])
    three = cuped_adjust(*(unit_sums(y, x, COVARIATES) for y, x in arms), COVARIATES)
    assert 0 < one.variance_reduction < three.variance_reduction < 1
    # the multivariate θ is the pooled OLS slope of y on x (arms ignored)
    y = np.concatenate([a[0] for a in arms])
    x = np.vstack([a[1] for a in arms])
    slope = np.linalg.lstsq(np.column_stack([np.ones(len(y)), x]), y, rcond=None)[0][1:]
    np.testing.assert_allclose(three.theta, slope, rtol=1e-9)


def test_constant_covariate_gets_no_slope_and_degenerate_inputs_say_why() -> None:
    (yc, xc), (yt, xt) = _arms(7)
    xc[:, 1] = 5.0
    xt[:, 1] = 5.0
    r = cuped_adjust(unit_sums(yc, xc, COVARIATES), unit_sums(yt, xt, COVARIATES), COVARIATES)
    assert r.theta[1] == pytest.approx(0.0, abs=1e-9)
    tiny = ArmSums(1, {k: 1.0 for k in monomials(COVARIATES)})
    assert cuped_adjust(tiny, tiny, COVARIATES).reason.startswith("insufficient data")
    assert ols_adjust(tiny, tiny, COVARIATES).reason.startswith("insufficient data")
    with pytest.raises(KeyError, match="missing the sum"):
        ols_adjust(unit_sums(yc, xc, COVARIATES), unit_sums(yt, xt, COVARIATES), COVARIATES)


def test_monomials_are_the_documented_lists() -> None:
    assert monomials(["a"]) == (("a",), ("y",), ("a", "a"), ("a", "y"), ("y", "y"))
    four = monomials(["a", "b"], order=4)
    assert ("a", "a", "b", "y") in four and ("y", "y", "y") not in four
    assert len(four) == len(set(four))
    with pytest.raises(ValueError):
        monomials(["y"])
