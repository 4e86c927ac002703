"""Reproduce every section of reference.txt from sufficient statistics, to 1e-8 relative.

Each test names the reference line whose convention the engine documents (see
docs/statistics.md) and, where possible, also calls scipy/statsmodels directly.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from stats_reference import Reference

from metricspec.stats import (
    Correction,
    Direction,
    ExperimentConfig,
    ExperimentData,
    Mde,
    MetricKind,
    MetricSpec,
    Moments,
    QuantileMoments,
    Role,
    VariantData,
    adjust,
    analyze,
    plan_power,
    sample_size_per_variant,
    srm_check,
)
from metricspec.stats.quantile import Z_975
from metricspec.stats.sequential import rho

REL = 1e-8
CONFIG = ExperimentConfig(control="control", variants={"control": 0.5, "treatment": 0.5})


def close(actual: float | None, expected: float, rel: float = REL) -> None:
    assert actual is not None
    assert actual == pytest.approx(expected, rel=rel, abs=0.0), (actual, expected)


def run(
    moments: dict[str, dict[str, Moments]],
    spec: MetricSpec,
    config: ExperimentConfig = CONFIG,
    quantiles: dict[str, QuantileMoments] | None = None,
):
    variants = {
        arm: VariantData(
            moments=m,
            units=m["revenue"].n,
            quantiles={"latency": quantiles[arm]} if quantiles else {},
        )
        for arm, m in moments.items()
    }
    return analyze(config, [spec], ExperimentData.single(variants)).metric(spec.name)


def test_sufficient_statistics_match_block_a(reference: Reference, moments) -> None:
    table = {}
    for ln in reference.blocks["A"]:
        parts = ln.split()
        if len(parts) == 4 and parts[2] == "|":
            table[parts[0]] = (float(parts[1]), float(parts[3]))
    names = {
        "rev_sum": ("revenue", "revenue.x", None),
        "rev_ss": ("revenue", "revenue.x", "revenue.x"),
        "pre_ss": ("revenue", "revenue.c", "revenue.c"),
        "rev_pre_sp": ("revenue", "revenue.x", "revenue.c"),
        "conv_sum": ("conv", "conv.x", None),
        "clk_ses_sp": ("cps", "cps.x", "cps.y"),
        "pclk_pses_sp": ("cps", "cps.c", "cps.d"),
        "clk_pses_sp": ("cps", "cps.x", "cps.d"),
        "pclk_ses_sp": ("cps", "cps.y", "cps.c"),
        "ses_pses_sp": ("cps", "cps.y", "cps.d"),
        "clk_pclk_sp": ("cps", "cps.x", "cps.c"),
    }
    assert table["n"] == (1000, 1100)
    for key, (metric, a, b) in names.items():
        for i, arm in enumerate(("control", "treatment")):
            m = moments[arm][metric]
            got = m.sums[a] if b is None else m.product(a, b)
            close(got, table[key][i], 1e-12)


def test_1_welch_mean(reference: Reference, moments, units) -> None:
    r = run(moments, MetricSpec("revenue"))
    exp = reference.values("A", "1", "scipy.stats.ttest_ind")
    close(r.absolute.estimate, exp["diff"])
    close(r.absolute.ci_lower, exp["ci_lo"])
    close(r.absolute.ci_upper, exp["ci_hi"])
    close(r.p_value, exp["p"])
    close(r.conventions.df, exp["df"])
    direct = stats.ttest_ind(
        units["treatment"]["revenue"], units["control"]["revenue"], equal_var=False
    )
    close(r.p_value, direct.pvalue, 1e-10)
    close(r.absolute.estimate / r.absolute.se, direct.statistic, 1e-10)
    rel = reference.values("C", "1", "relative")
    close(r.relative.estimate, rel["expected"])
    close(r.relative.ci_lower, rel["ci_lo"])
    close(r.relative.ci_upper, rel["ci_hi"])
    close(r.relative.p_value, rel["p"])
    close(r.relative.se, rel["stddev"])
    hand = reference.values("A", "1", "hand: relative lift, delta-method")
    close(r.relative.se, hand["se"])


def test_2_proportions_wald_z(reference: Reference, moments, units) -> None:
    from statsmodels.stats.proportion import (
        confint_proportions_2indep,
        test_proportions_2indep,
    )

    r = run(moments, MetricSpec("conv", MetricKind.PROPORTION))
    exp = reference.values("A", "2", "test_proportions_2indep(method='wald')")
    ci = reference.values("A", "2", "confint_proportions_2indep(method='wald')")
    close(r.absolute.estimate / r.absolute.se, exp["z"])
    close(r.p_value, exp["p"])
    close(r.absolute.ci_lower, ci["ci_lo"])
    close(r.absolute.ci_upper, ci["ci_hi"])
    assert r.conventions.test == "z" and r.conventions.df is None
    xt, xc = units["treatment"]["converted"].sum(), units["control"]["converted"].sum()
    direct = test_proportions_2indep(xt, 1100, xc, 1000, method="wald")
    close(r.p_value, direct.pvalue, 1e-10)
    lo, hi = confint_proportions_2indep(xt, 1100, xc, 1000, method="wald")
    close(r.absolute.ci_lower, lo, 1e-10)
    close(r.absolute.ci_upper, hi, 1e-10)
    # gbstats uses the same unpooled SE but a t quantile: same stddev, different interval.
    gb = reference.values("C", "2", "conversion absolute")
    close(r.absolute.se, gb["stddev"])
    gb_rel = reference.values("C", "2", "conversion relative")
    close(r.relative.se, gb_rel["stddev"])
    close(r.relative.estimate, gb_rel["expected"])


def test_3_ratio_delta_method_t(reference: Reference, moments) -> None:
    r = run(moments, MetricSpec("cps", MetricKind.RATIO))
    for part, label in ((r.absolute, "absolute"), (r.relative, "relative")):
        gb = reference.values("C", "3", f"clicks/sessions {label}")
        close(part.estimate, gb["expected"])
        close(part.ci_lower, gb["ci_lo"])
        close(part.ci_upper, gb["ci_hi"])
        close(part.p_value, gb["p"])
        close(part.se, gb["stddev"])
    hand = reference.values("A", "3", "hand: ratio clicks/sessions")
    close(r.control.value, hand["r_c"])
    close(r.treatment.value, hand["r_t"])
    close(r.absolute.se, hand["se"])
    # The hand line uses z: identical SE, normal quantile.
    close(2 * stats.norm.sf(r.absolute.estimate / r.absolute.se), hand["p"])
    hand_rel = reference.values("A", "3", "hand: ratio, relative lift")
    close(r.relative.se, hand_rel["se"])
    close(r.relative.estimate - stats.norm.ppf(0.975) * r.relative.se, hand_rel["ci_lo"])


def test_4_cuped_mean(reference: Reference, moments) -> None:
    spec = MetricSpec("revenue", cuped={"revenue.x": "revenue.c"})
    r = run(moments, spec)
    hand = reference.values("A", "4", "hand: CUPED absolute")
    close(r.cuped.theta, hand["theta"])
    close(r.cuped.variance_reduction, hand["var_reduction"])
    close(r.absolute.se, hand["se"])
    gb = reference.values("C", "4", "(CUPED) absolute")
    close(r.absolute.estimate, gb["expected"])
    close(r.absolute.ci_lower, gb["ci_lo"])
    close(r.absolute.ci_upper, gb["ci_hi"])
    close(r.p_value, gb["p"])
    d_rel = reference.values("D", "4", "(CUPED) relative")
    close(r.relative.estimate, d_rel["expected"])
    close(r.relative.se, d_rel["stddev"])
    close(r.relative.ci_lower, d_rel["ci_lo"])
    close(r.relative.ci_upper, d_rel["ci_hi"])
    close(r.relative.p_value, d_rel["p"])
    c_rel = reference.values("C", "4", "(CUPED) relative")
    assert r.relative.se != pytest.approx(c_rel["stddev"], rel=1e-3)  # C omits a covariance


def test_4b_cuped_ratio(reference: Reference, moments) -> None:
    spec = MetricSpec("cps", MetricKind.RATIO, cuped={"cps.x": "cps.c", "cps.y": "cps.d"})
    r = run(moments, spec)
    for part, label in ((r.absolute, "absolute"), (r.relative, "relative")):
        gb = reference.values("D", "4b", f"(CUPED ratio) {label}")
        close(part.estimate, gb["expected"])
        close(part.ci_lower, gb["ci_lo"])
        close(part.ci_upper, gb["ci_hi"])
        close(part.p_value, gb["p"])
        close(part.se, gb["stddev"])


def test_5a_proportion_sample_size(reference: Reference) -> None:
    hand = reference.values("A", "5a", "hand: unpooled-variance formula")
    n_c, n_t = sample_size_per_variant(0.10 * 0.90, 0.11 * 0.89, 0.01)
    close(n_c, hand["n"])
    close(n_t, hand["n"])
    baseline = Moments(1000, {"conv.x": 100.0}, {("conv.x", "conv.x"): 100.0})
    spec = MetricSpec("conv", MetricKind.PROPORTION)
    plan = plan_power(spec, baseline, CONFIG, mde=Mde(0.10))
    close(plan.exact_per_variant["control"], hand["n"])
    assert plan.n_per_variant == {"control": 14749, "treatment": 14749}
    spotify = reference.values("B", "5", "metric=conv")
    assert plan.n_per_variant["control"] == spotify["per_group"]


def test_5b_mean_sample_size(reference: Reference, moments) -> None:
    hand = reference.values("A", "5b", "hand: 2*(za+zb)")
    info = reference.values("A", "5b", "mean metric")
    base = moments["control"]["revenue"]
    plan = plan_power(MetricSpec("revenue"), base, CONFIG, mde=Mde(0.05))
    close(plan.baseline_value, info["mean"])
    close(plan.baseline_variance**0.5, info["sd"])
    close(plan.exact_per_variant["treatment"], hand["n"])


def test_6_srm(reference: Reference) -> None:
    exp = reference.values("A", "6", "scipy.stats.chisquare")
    srm = srm_check({"control": 1000, "treatment": 1100}, CONFIG.split, 0.001)
    close(srm.chi2, exp["chi2"])
    close(srm.p_value, exp["p"])
    assert not srm.flagged
    direct = stats.chisquare([1000, 1100], f_exp=[1050, 1050])
    close(srm.p_value, direct.pvalue, 1e-12)
    assert srm_check({"control": 1000, "treatment": 1100}, CONFIG.split, 0.05).flagged


@pytest.mark.parametrize(
    ("method", "label"),
    [(Correction.BONFERRONI, "bonferroni"), (Correction.HOLM, "holm"), (Correction.BH, "fdr_bh")],
)
def test_7_corrections(reference: Reference, method: Correction, label: str) -> None:
    p = reference.lists("A", "7", "p-values")["_"]
    expected = reference.lists("A", "7", f"method='{label}'")["adj"]
    np.testing.assert_allclose(adjust(p, method), expected, rtol=REL)
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(7)
    for _ in range(20):
        ps = rng.uniform(0, 0.2, size=rng.integers(1, 30))
        np.testing.assert_allclose(
            adjust(ps, method), multipletests(ps, method=label)[1], rtol=1e-12
        )


def _quantile_moments(latency: np.ndarray, nu: float = 0.9) -> QuantileMoments:
    n = latency.size
    n_star = 100 * 2 ** int(np.floor(np.log2(n / 100)))
    half = Z_975 * np.sqrt(nu * (1 - nu) / n_star)
    q = float(np.quantile(latency, nu))
    below = (latency <= q).astype(float)
    return QuantileMoments(
        n_units=n,
        quantile=q,
        quantile_lower=float(np.quantile(latency, nu - half)),
        quantile_upper=float(np.quantile(latency, nu + half)),
        n_star=n_star,
        sum_events=float(n),
        sum_events2=float(n),
        sum_below=float(below.sum()),
        sum_below2=float(below.sum()),
        sum_below_events=float(below.sum()),
    )


def test_8_quantile(reference: Reference, moments, units) -> None:
    qs = {arm: _quantile_moments(u["latency_ms"]) for arm, u in units.items()}
    for arm in ("control", "treatment"):
        info = reference.values("C", "8", f"QuantileStatistic inputs {arm}")
        close(qs[arm].quantile, info["q"])
        close(qs[arm].quantile_lower, info["q_lo"])
        close(qs[arm].quantile_upper, info["q_hi"])
        assert qs[arm].n_star == info["n_star"]
    spec = MetricSpec(
        "latency", MetricKind.QUANTILE, quantile_level=0.9, direction=Direction.DECREASE
    )
    r = run(moments, spec, quantiles=qs)
    for part, label in ((r.absolute, "absolute"), (r.relative, "relative")):
        gb = reference.values("C", "8", f"p90 latency {label}")
        close(part.estimate, gb["expected"])
        close(part.ci_lower, gb["ci_lo"])
        close(part.ci_upper, gb["ci_hi"])
        close(part.p_value, gb["p"])
        close(part.se, gb["stddev"])


def test_s_sequential(reference: Reference, moments) -> None:
    config = ExperimentConfig(
        control="control",
        variants={"control": 1, "treatment": 1},
        sequential=True,
        sequential_tuning=5000,
    )
    r = run(moments, MetricSpec("revenue"), config)
    hand = reference.values("A", "S", "hand: asymptotic CS")
    close(rho(0.05, 5000), hand["rho"])
    close(r.absolute.ci_lower, hand["ci_lo"])
    close(r.absolute.ci_upper, hand["ci_hi"])
    for part, label in ((r.absolute, "absolute"), (r.relative, "relative")):
        gb = reference.values("C", "S", f"N*=5000 {label}")
        close(part.estimate, gb["expected"])
        close(part.ci_lower, gb["ci_lo"])
        close(part.ci_upper, gb["ci_hi"])
        close(part.p_value, gb["p"])
    assert "confidence sequence" in r.conventions.interval


def test_roles_do_not_change_numbers(moments) -> None:
    a = run(moments, MetricSpec("revenue", role=Role.PRIMARY))
    b = run(moments, MetricSpec("revenue", role=Role.SECONDARY))
    assert a.absolute == b.absolute
