"""Post-stratification against gbstats' own post-stratification tests.

The cases and expected numbers are those of growthbook/growthbook
``packages/stats/tests/frequentist/test_post_strat.py`` (at 8f1db44; gbstats 0.8.0 on PyPI
predates post-stratification, so the published expectations are the reference): five
strata of per-arm (n, Σ, Σ²), the post-stratified effect and standard error on both scales,
the negative-baseline, zero-variance, zero-baseline and missing-variation cases, and the
interval of ``test_post_strat_count_gbstats``: estimate ± t(Welch df of the pooled arms)·SE.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from metricspec.stats import (
    ExperimentConfig,
    ExperimentData,
    MetricKind,
    MetricSpec,
    Moments,
    SegmentData,
    VariantData,
    analyze,
)
from metricspec.stats.poststrat import (
    Arm,
    PostStratified,
    RatioArm,
    stratified_effect,
    stratified_ratio_effect,
)
from metricspec.stats.poststrat_cuped import (
    CupedArm,
    CupedRatioArm,
    stratified_cuped_effect,
    stratified_cuped_ratio_effect,
)

REL = 1e-8
# growthbook test_post_strat.py, TestPostStratification.setUp: stats_count_strata
STRATA = [
    ((21, 330.0696210595999, 5377.811252605509), (42, 708.1220000911836, 12249.255519049513)),
    ((65, 1391.96628040659, 30546.63404187155), (75, 1807.4703052657744, 45000.287664918586)),
    ((102, 2916.824124651419, 86396.06886690554), (101, 3104.5399914554023, 98365.40553530994)),
    ((151, 5172.587929941052, 182453.04528037464), (121, 4613.696610070716, 180520.64781229294)),
    ((160, 6539.348445231273, 274981.98909352464), (162, 7431.953259880505, 349244.6690736718)),
]
POINT_REL, POINT_ABS = 0.10994584851937336, 3.548094377986586
SE_REL, SE_ABS = 0.012225394656480164, 0.37634374823059685
# stats_ratio_strata: per arm (n, Σx, Σx², Σy, Σy², Σxy)
RATIO_STRATA = [
    (
        (
            21,
            330.0696210595999,
            5377.811252605509,
            890.9766550739607,
            38220.95223835553,
            14263.937571840695,
        ),
        (
            42,
            708.1220000911836,
            12249.255519049513,
            1745.9858250014954,
            73194.53424221886,
            29826.620793423102,
        ),
    ),
    (
        (
            65,
            1391.96628040659,
            30546.63404187155,
            2769.8126179473184,
            118719.96077578884,
            59924.702385890436,
        ),
        (
            75,
            1807.4703052657744,
            45000.287664918586,
            3184.8395612061063,
            136710.92474497214,
            78119.14871556411,
        ),
    ),
    (
        (
            102,
            2916.824124651419,
            86396.06886690554,
            4445.780384331884,
            195387.7733842407,
            129041.55268673625,
        ),
        (
            101,
            3104.5399914554023,
            98365.40553530994,
            4235.277718489282,
            179690.4720421368,
            132444.36911739354,
        ),
    ),
    (
        (
            151,
            5172.587929941052,
            182453.04528037464,
            6510.170220892494,
            283094.7243365024,
            226127.20135744457,
        ),
        (
            121,
            4613.696610070716,
            180520.64781229294,
            5079.943060454901,
            215529.32009367683,
            196562.8269130501,
        ),
    ),
    (
        (
            160,
            6539.348445231273,
            274981.98909352464,
            6906.305872710853,
            300900.3106781779,
            286483.9732935189,
        ),
        (
            162,
            7431.953259880505,
            349244.6690736718,
            6899.004661928157,
            296839.44355002965,
            321057.8410309036,
        ),
    ),
]
# stats_count_reg_strata: per arm (n, Σy, Σy², Σx, Σx², Σxy), x the pre-period covariate
REG_STRATA = [
    (
        (
            21,
            330.0696210595999,
            5377.811252605509,
            104.90748970535698,
            544.8528083123211,
            1709.8485612477339,
        ),
        (
            42,
            708.1220000911836,
            12249.255519049513,
            205.17072061676208,
            1040.6742753852225,
            3561.161673449451,
        ),
    ),
    (
        (
            65,
            1391.96628040659,
            30546.63404187155,
            315.83926510817054,
            1578.8689285910423,
            6938.770455871619,
        ),
        (
            75,
            1807.4703052657744,
            45000.287664918586,
            377.29540367369503,
            1981.0803020754106,
            9428.146405105292,
        ),
    ),
    (
        (
            102,
            2916.824124651419,
            86396.06886690554,
            523.2717238353379,
            2797.158898626946,
            15535.162216800189,
        ),
        (
            101,
            3104.5399914554023,
            98365.40553530994,
            501.0447878972627,
            2596.899156698453,
            15962.754636573465,
        ),
    ),
    (
        (
            151,
            5172.587929941052,
            182453.04528037464,
            758.3911049329452,
            3955.922281372593,
            26846.415701194885,
        ),
        (
            121,
            4613.696610070716,
            180520.64781229294,
            603.9456523430367,
            3144.0820997706583,
            23789.82730157116,
        ),
    ),
    (
        (
            160,
            6539.348445231273,
            274981.98909352464,
            823.2824168385916,
            4389.893995072177,
            34727.84795433773,
        ),
        (
            162,
            7431.953259880505,
            349244.6690736718,
            832.356528363269,
            4439.253146704266,
            39332.667494781235,
        ),
    ),
]
REG_POINT_REL, REG_POINT_ABS = 0.11529547657147865, 3.7116918650826394
REG_SE_REL, REG_SE_ABS = 0.002206093195330933, 0.07390409644392272
# stats_ratio_reg_strata: per arm (n, Σ of (x, y, c, d), their 4 × 4 Σ products)
RATIO_REG_STRATA = [
    (
        (
            21,
            (330.0696210595999, 890.9766550739607, 104.90748970535698, 207.89392275808956),
            (
                (5377.811252605509, 14263.937571840695, 1709.8485612477339, 3331.5604732242236),
                (14263.937571840695, 38220.95223835553, 4536.239751943664, 8924.759241535443),
                (1709.8485612477339, 4536.239751943664, 544.8528083123211, 1060.4394881503144),
                (3331.5604732242236, 8924.759241535443, 1060.4394881503144, 2084.9576141182224),
            ),
        ),
        (
            42,
            (708.1220000911836, 1745.9858250014954, 205.17072061676208, 412.711880878505),
            (
                (12249.255519049513, 29826.620793423102, 3561.161673449451, 7054.607772583746),
                (29826.620793423102, 73194.53424221886, 8661.515319014929, 17309.48641894266),
                (3561.161673449451, 8661.515319014929, 1040.6742753852225, 2052.459256425701),
                (7054.607772583746, 17309.48641894266, 2052.459256425701, 4096.604057794132),
            ),
        ),
    ),
    (
        (
            65,
            (1391.96628040659, 2769.8126179473184, 315.83926510817054, 642.2456105047289),
            (
                (30546.63404187155, 59924.702385890436, 6938.770455871619, 13907.522729117181),
                (59924.702385890436, 118719.96077578884, 13603.664018221429, 27539.520078090354),
                (6938.770455871619, 13603.664018221429, 1578.8689285910423, 3159.649493130578),
                (13907.522729117181, 27539.520078090354, 3159.649493130578, 6391.278897716863),
            ),
        ),
        (
            75,
            (1807.4703052657744, 3184.8395612061063, 377.29540367369503, 758.076359391088),
            (
                (45000.287664918586, 78119.14871556411, 9428.146405105292, 18589.628595670973),
                (78119.14871556411, 136710.92474497214, 16346.199623884253, 32540.687226429243),
                (9428.146405105292, 16346.199623884253, 1981.0803020754106, 3894.390731281282),
                (18589.628595670973, 32540.687226429243, 3894.390731281282, 7750.7726864492015),
            ),
        ),
    ),
    (
        (
            102,
            (2916.824124651419, 4445.780384331884, 523.2717238353379, 1036.3070573097948),
            (
                (86396.06886690554, 129041.55268673625, 15535.162216800189, 30084.67030990572),
                (129041.55268673625, 195387.7733842407, 23168.39181193194, 45542.18577719637),
                (15535.162216800189, 23168.39181193194, 2797.158898626946, 5404.918238379167),
                (30084.67030990572, 45542.18577719637, 5404.918238379167, 10619.969725470164),
            ),
        ),
        (
            101,
            (3104.5399914554023, 4235.277718489282, 501.0447878972627, 1010.378433449463),
            (
                (98365.40553530994, 132444.36911739354, 15962.754636573465, 31588.028767759377),
                (132444.36911739354, 179690.4720421368, 21431.70320453045, 42848.21621273023),
                (15962.754636573465, 21431.70320453045, 2596.899156698453, 5115.7607599471585),
                (31588.028767759377, 42848.21621273023, 5115.7607599471585, 10223.916200184585),
            ),
        ),
    ),
    (
        (
            151,
            (5172.587929941052, 6510.170220892494, 758.3911049329452, 1512.006054112595),
            (
                (182453.04528037464, 226127.20135744457, 26846.415701194885, 52549.76208497923),
                (226127.20135744457, 283094.7243365024, 33204.9846415661, 65760.83670959483),
                (26846.415701194885, 33204.9846415661, 3955.922281372593, 7722.607914963395),
                (52549.76208497923, 65760.83670959483, 7722.607914963395, 15285.151021409667),
            ),
        ),
        (
            121,
            (4613.696610070716, 5079.943060454901, 603.9456523430367, 1204.8449120624373),
            (
                (180520.64781229294, 196562.8269130501, 23789.82730157116, 46652.31675719776),
                (196562.8269130501, 215529.32009367683, 25819.033228132084, 51127.544981001134),
                (23789.82730157116, 25819.033228132084, 3144.0820997706583, 6133.9761958037225),
                (46652.31675719776, 51127.544981001134, 6133.9761958037225, 12136.926835557133),
            ),
        ),
    ),
    (
        (
            160,
            (6539.348445231273, 6906.305872710853, 823.2824168385916, 1614.6469506831402),
            (
                (274981.98909352464, 286483.9732935189, 34727.84795433773, 67017.16816048721),
                (286483.9732935189, 300900.3106781779, 36121.28274124097, 70363.18868076446),
                (34727.84795433773, 36121.28274124097, 4389.893995072177, 8454.545756182042),
                (67017.16816048721, 70363.18868076446, 8454.545756182042, 16462.430726309674),
            ),
        ),
        (
            162,
            (7431.953259880505, 6899.004661928157, 832.356528363269, 1645.0526462449084),
            (
                (349244.6690736718, 321057.8410309036, 39332.667494781235, 76550.57235527673),
                (321057.8410309036, 296839.44355002965, 36071.28512692181, 70764.05432525955),
                (39332.667494781235, 36071.28512692181, 4439.253146704266, 8606.62830914991),
                (76550.57235527673, 70764.05432525955, 8606.62830914991, 16880.972871039336),
            ),
        ),
    ),
]
RATIO_REG_POINT_REL, RATIO_REG_POINT_ABS = 0.13929489348144797, 0.10399412678968833
RATIO_REG_SE_REL, RATIO_REG_SE_ABS = 0.0012316128268122996, 0.0012269621176865127
RATIO_POINT_REL, RATIO_POINT_ABS = 0.13371299783026003, 0.10008903417216031
RATIO_SE_REL, RATIO_SE_ABS = 0.007131233706378072, 0.005071004003792392


def cells(strata=STRATA) -> list[tuple[Arm, Arm]]:
    return [(Arm(*a), Arm(*b)) for a, b in strata]


def test_count_effect_moments() -> None:
    r = stratified_effect(cells())
    assert isinstance(r, PostStratified) and r.strata == 5
    assert r.lift == pytest.approx(POINT_REL, rel=REL)
    assert r.diff == pytest.approx(POINT_ABS, rel=REL)
    assert r.lift_se == pytest.approx(SE_REL, rel=REL)
    assert r.se == pytest.approx(SE_ABS, rel=REL)


def test_cuped_effect_moments() -> None:
    """gbstats test_post_strat_count_reg_effect_moments (the regression per stratum)."""
    r = stratified_cuped_effect([(CupedArm(*a), CupedArm(*b)) for a, b in REG_STRATA])
    assert isinstance(r, PostStratified) and r.strata == 5
    assert r.lift == pytest.approx(REG_POINT_REL, rel=REL)
    assert r.diff == pytest.approx(REG_POINT_ABS, rel=REL)
    assert r.lift_se == pytest.approx(REG_SE_REL, rel=REL)
    assert r.se == pytest.approx(REG_SE_ABS, rel=REL)


def test_cuped_without_covariate_variance_is_the_unadjusted_estimator() -> None:
    flat = [
        ((a[0], a[1], a[2], 0.0, 0.0, 0.0), (b[0], b[1], b[2], 0.0, 0.0, 0.0))
        for a, b in REG_STRATA
    ]
    got = stratified_cuped_effect([(CupedArm(*a), CupedArm(*b)) for a, b in flat])
    want = stratified_effect([(Arm(*a[:3]), Arm(*b[:3])) for a, b in flat])
    assert isinstance(got, PostStratified) and isinstance(want, PostStratified)
    assert got.se == pytest.approx(want.se, rel=1e-12)
    assert got.diff == pytest.approx(POINT_ABS, rel=REL)  # the same units as STRATA


def test_cuped_ratio_effect_moments() -> None:
    """gbstats test_post_strat_ratio_reg_effect_moments (two regressions per stratum)."""
    r = stratified_cuped_ratio_effect(
        [(CupedRatioArm(*a), CupedRatioArm(*b)) for a, b in RATIO_REG_STRATA]
    )
    assert isinstance(r, PostStratified) and r.strata == 5
    assert r.lift == pytest.approx(RATIO_REG_POINT_REL, rel=REL)
    assert r.diff == pytest.approx(RATIO_REG_POINT_ABS, rel=REL)
    assert r.lift_se == pytest.approx(RATIO_REG_SE_REL, rel=REL)
    assert r.se == pytest.approx(RATIO_REG_SE_ABS, rel=REL)


def test_engine_post_stratifies_cuped_ratios() -> None:
    keys = ("m.x", "m.y", "m.c", "m.d")

    def mom(a) -> Moments:
        n, sums, prods = a
        products = {
            (keys[i], keys[j]): prods[i][j]
            for i in range(4)
            for j in range(4)
            if keys[i] <= keys[j]
        }
        return Moments(n, dict(zip(keys, sums, strict=True)), products)

    def pool(i: int):
        arms = [c[i] for c in RATIO_REG_STRATA]
        n = sum(a[0] for a in arms)
        sums = tuple(map(sum, zip(*(a[1] for a in arms), strict=True)))
        prods = tuple(tuple(sum(a[2][r][c] for a in arms) for c in range(4)) for r in range(4))
        return n, sums, prods

    overall = SegmentData(
        "all",
        None,
        {
            v: VariantData({"m": mom(pool(i))}, units=pool(i)[0])
            for i, v in enumerate(("control", "treatment"))
        },
    )
    segs = [
        SegmentData(
            "browser",
            f"b{k}",
            {
                "control": VariantData({"m": mom(a)}, units=a[0]),
                "treatment": VariantData({"m": mom(b)}, units=b[0]),
            },
        )
        for k, (a, b) in enumerate(RATIO_REG_STRATA)
    ]
    cfg = ExperimentConfig("control", {"control": 1, "treatment": 1}, strata="browser")
    spec = MetricSpec("m", kind=MetricKind.RATIO, cuped={"m.x": "m.c", "m.y": "m.d"})
    res = analyze(cfg, [spec], ExperimentData((overall, *segs)))
    r = res.metric("m")
    assert r.absolute.estimate == pytest.approx(RATIO_REG_POINT_ABS, rel=REL)
    assert r.absolute.se == pytest.approx(RATIO_REG_SE_ABS, rel=REL)
    assert r.relative.se == pytest.approx(RATIO_REG_SE_REL, rel=REL)


def test_ratio_effect_moments() -> None:
    r = stratified_ratio_effect([(RatioArm(*a), RatioArm(*b)) for a, b in RATIO_STRATA])
    assert isinstance(r, PostStratified) and r.strata == 5
    assert r.lift == pytest.approx(RATIO_POINT_REL, rel=REL)
    assert r.diff == pytest.approx(RATIO_POINT_ABS, rel=REL)
    assert r.lift_se == pytest.approx(RATIO_SE_REL, rel=REL)
    assert r.se == pytest.approx(RATIO_SE_ABS, rel=REL)


@pytest.mark.parametrize(("treatment", "lift"), [(-5, 0.5), (-15, -0.5), (5, 1.5)])
def test_ratio_lift_uses_the_negative_baseline_magnitude(treatment: float, lift: float) -> None:
    def arm(mean: float, n: int = 1000) -> RatioArm:
        return RatioArm(n, mean * n, (mean**2 + 4) * n, n, n, mean * n)

    r = stratified_ratio_effect([(arm(-10), arm(treatment)) for _ in range(2)])
    assert isinstance(r, PostStratified)
    assert r.lift == pytest.approx(lift, rel=1e-12)


def test_ratio_single_stratum_is_the_delta_method() -> None:
    (a, b) = RATIO_STRATA[0]
    r = stratified_ratio_effect([(RatioArm(*a), RatioArm(*b))])
    assert isinstance(r, PostStratified)

    def var(n, x, xx, y, yy, xy):  # delta-method variance of Σx/Σy (independent check)
        mx, my = x / n, y / n
        vx, vy, cxy = (
            (xx - x * x / n) / (n - 1),
            (yy - y * y / n) / (n - 1),
            (xy - x * y / n) / (n - 1),
        )
        ratio = mx / my
        return (vx - 2 * ratio * cxy + ratio**2 * vy) / my**2 / n

    assert r.diff == pytest.approx(b[1] / b[3] - a[1] / a[3], rel=1e-12)
    assert r.se == pytest.approx(np.sqrt(var(*a) + var(*b)), rel=1e-10)


@pytest.mark.parametrize(("treatment", "lift"), [(-5, 0.5), (-15, -0.5), (5, 1.5)])
def test_relative_lift_uses_the_negative_baseline_magnitude(treatment: float, lift: float) -> None:
    def arm(mean: float, n: int = 1000) -> Arm:
        return Arm(n, mean * n, (mean**2 + 4) * n)

    r = stratified_effect([(arm(-10), arm(treatment)) for _ in range(2)])
    assert isinstance(r, PostStratified)
    assert r.lift == pytest.approx(lift, rel=1e-12)


def test_zero_variance_and_zero_baseline_are_reasons() -> None:
    zero = [((21, 0, 0), (42, 0, 0)), ((65, 0, 0), (75, 0, 0))]
    assert isinstance(stratified_effect(cells(zero)), str)
    baseline = [((21, 0, 10), (42, 0, 10)), ((65, 0, 10), (75, 0, 10))]
    assert "zero" in str(stratified_effect(cells(baseline)))


def test_missing_variation_data_is_merged_into_the_largest_stratum() -> None:
    """gbstats test_missing_variation_data: one control unit moved to a new stratum without
    treatment units changes nothing (it is merged back into the largest stratum)."""
    last_a, last_b = STRATA[-1]
    moved = [
        *STRATA[:-1],
        ((last_a[0] - 1, last_a[1] - 1, last_a[2] - 1), last_b),
        ((1, 1, 1), (0, 0, 0)),
    ]
    want, got = stratified_effect(cells()), stratified_effect(cells(moved))
    assert isinstance(want, PostStratified) and isinstance(got, PostStratified)
    for field in ("diff", "se", "lift", "lift_se"):
        assert getattr(got, field) == pytest.approx(getattr(want, field), rel=1e-12)


def test_one_stratum_is_the_unstratified_comparison() -> None:
    r = stratified_effect(cells(STRATA[:1]))
    (na, sa, qa), (nb, sb, qb) = STRATA[0]
    va, vb = (qa - sa**2 / na) / (na - 1), (qb - sb**2 / nb) / (nb - 1)
    assert isinstance(r, PostStratified)
    assert r.se == pytest.approx(np.sqrt(va / na + vb / nb), rel=1e-12)


def _moments(n: float, s: float, q: float) -> Moments:
    return Moments(int(n), {"m.x": s}, {("m.x", "m.x"): q})


def _experiment(strata=STRATA) -> ExperimentData:
    pooled = [tuple(map(sum, zip(*(c[i] for c in strata), strict=True))) for i in (0, 1)]
    overall = SegmentData(
        "all",
        None,
        {
            v: VariantData({"m": _moments(*p)}, units=int(p[0]))
            for v, p in zip(("control", "treatment"), pooled, strict=True)
        },
    )
    segs = [
        SegmentData(
            "browser",
            f"b{k}",
            {
                "control": VariantData({"m": _moments(*a)}, units=a[0]),
                "treatment": VariantData({"m": _moments(*b)}, units=b[0]),
            },
        )
        for k, (a, b) in enumerate(strata)
    ]
    return ExperimentData((overall, *segs))


def test_engine_interval_matches_gbstats_post_strat_count_gbstats() -> None:
    cfg = ExperimentConfig("control", {"control": 1, "treatment": 1}, strata="browser")
    res = analyze(cfg, [MetricSpec("m")], _experiment())
    r = res.metric("m")
    assert r.absolute.estimate == pytest.approx(POINT_ABS, rel=REL)
    assert r.absolute.se == pytest.approx(SE_ABS, rel=REL)
    assert r.relative.estimate == pytest.approx(POINT_REL, rel=REL)
    assert r.relative.se == pytest.approx(SE_REL, rel=REL)
    # gbstats: half-width t(1 − α/2, Welch df of the pooled statistics) × SE
    (na, sa, qa), (nb, sb, qb) = (
        tuple(map(sum, zip(*(c[i] for c in STRATA), strict=True))) for i in (0, 1)
    )
    va, vb = (qa - sa**2 / na) / (na - 1), (qb - sb**2 / nb) / (nb - 1)
    dof = (va / na + vb / nb) ** 2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
    half = stats.t.ppf(0.975, dof) * SE_ABS
    assert r.absolute.ci_lower == pytest.approx(POINT_ABS - half, rel=REL)
    assert r.absolute.ci_upper == pytest.approx(POINT_ABS + half, rel=REL)
    assert r.relative.ci_upper == pytest.approx(POINT_REL + stats.t.ppf(0.975, dof) * SE_REL)
    assert res.settings["poststratification"]["metrics"] == {
        "m (treatment)": "post-stratified over 5 strata"
    }
    # segment rows themselves stay unstratified comparisons
    seg = res.metric("m", segment="browser", segment_value="b0")
    assert seg.absolute.estimate == pytest.approx(STRATA[0][1][1] / 42 - STRATA[0][0][1] / 21)


def test_engine_leaves_other_kinds_unstratified_and_says_so() -> None:
    cfg = ExperimentConfig("control", {"control": 1, "treatment": 1}, strata="browser")
    spec = MetricSpec("m", kind=MetricKind.DERIVED, formula=MetricSpec("m").formula * 2.0)
    res = analyze(cfg, [spec], _experiment())
    note = res.settings["poststratification"]["metrics"]["m (treatment)"]
    assert note.startswith("not post-stratified")
    assert res.metric("m").absolute.estimate == pytest.approx(2 * _pooled_diff(), rel=1e-12)


def _pooled_diff() -> float:
    (na, sa, _), (nb, sb, _) = (
        tuple(map(sum, zip(*(c[i] for c in STRATA), strict=True))) for i in (0, 1)
    )
    return sb / nb - sa / na


@pytest.mark.parametrize("proportion", [False, True])
def test_aa_false_positive_rate(proportion: bool) -> None:
    """A/A with strata of different means and sizes: |z| > 1.96 in 4–6 % of experiments, and
    the post-stratified SE is below the unstratified one (the strata explain variance)."""
    rng = np.random.default_rng(31 + proportion)
    share, level = np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.4, 0.7])
    sims, n, rejections, ratio = 3000, 600, 0, []
    for _ in range(sims):
        arms = []
        for _arm in range(2):
            k = rng.multinomial(n // 2, share)
            parts = []
            for kk, mu in zip(k, level, strict=True):
                x = (rng.random(kk) < mu) * 1.0 if proportion else rng.normal(10 * mu, 1.0, kk)
                parts.append(Arm(kk, x.sum(), x @ x, proportion))
            arms.append(parts)
        r = stratified_effect(list(zip(arms[0], arms[1], strict=True)))
        assert isinstance(r, PostStratified)
        rejections += abs(r.diff / r.se) > stats.norm.ppf(0.975)
        pooled = [sum(a[1:], a[0]) for a in arms]
        ratio.append(r.se / np.sqrt(pooled[0].var / pooled[0].n + pooled[1].var / pooled[1].n))
    assert 0.04 <= rejections / sims <= 0.06, rejections / sims
    assert np.median(ratio) < 0.95


def test_engine_post_stratifies_cuped_means() -> None:
    def mom(a) -> Moments:
        n, y, yy, x, xx, xy = a
        return Moments(
            n, {"m.x": y, "m.c": x}, {("m.x", "m.x"): yy, ("m.c", "m.c"): xx, ("m.c", "m.x"): xy}
        )

    pooled = [tuple(map(sum, zip(*(c[i] for c in REG_STRATA), strict=True))) for i in (0, 1)]
    overall = SegmentData(
        "all",
        None,
        {
            v: VariantData({"m": mom(p)}, units=p[0])
            for v, p in zip(("control", "treatment"), pooled, strict=True)
        },
    )
    segs = [
        SegmentData(
            "browser",
            f"b{k}",
            {
                "control": VariantData({"m": mom(a)}, units=a[0]),
                "treatment": VariantData({"m": mom(b)}, units=b[0]),
            },
        )
        for k, (a, b) in enumerate(REG_STRATA)
    ]
    cfg = ExperimentConfig("control", {"control": 1, "treatment": 1}, strata="browser")
    res = analyze(cfg, [MetricSpec("m", cuped={"m.x": "m.c"})], ExperimentData((overall, *segs)))
    r = res.metric("m")
    assert r.absolute.estimate == pytest.approx(REG_POINT_ABS, rel=REL)
    assert r.absolute.se == pytest.approx(REG_SE_ABS, rel=REL)
    assert r.relative.se == pytest.approx(REG_SE_REL, rel=REL)
    assert res.settings["poststratification"]["metrics"]["m (treatment)"].endswith("5 strata")
