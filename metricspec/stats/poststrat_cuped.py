"""Post-stratification of CUPED means and ratios (gbstats' regression-adjusted strata).

Per stratum, the regression y = γ₀ + γ₁·treated + γ₂·x + ε over both arms' units (x the
pre-period covariate), fitted from the sums alone: XᵀX = [[n, n_t, Σx], [n_t, n_t, Σx_t],
[Σx, Σx_t, Σx²]], Xᵀy = [Σy, Σy_t, Σxy], σ̂² = (Σy² − Xᵀyᵀ(XᵀX)⁻¹Xᵀy)/(n − 3). The stratum's
control mean is γ₀ + γ₂·x̄ (x̄ pooled) and its effect γ₁, with covariance (scaled by n)
n·[tr(Cov γ·(C_ij + m_i m_jᵀ)) + tr(γγᵀ C_ij)], C₀₀ carrying the sampling variance of x̄.
The strata are then combined as for unadjusted means (`poststrat.count_summary`). A stratum
whose covariate has no variance in an arm falls back to its unadjusted comparison, and the
whole metric does when the covariate has none in an arm overall (gbstats
``simplify_stats_if_baseline_variance_zero``). A CUPED ratio fits the same regression for its
numerator and its denominator on both covariates (``CreateStrataResultRegressionAdjustedRatio``:
n − 6 df, the residual covariance of the two) and is combined as a ratio
(`poststrat.ratio_summary`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from metricspec.stats.data import ExperimentData
from metricspec.stats.moments import Moments
from metricspec.stats.poststrat import (
    RATIO_CONTRAST,
    Arm,
    PostStratified,
    RatioArm,
    count_summary,
    pool_strata,
    ratio_summary,
)
from metricspec.stats.spec import MetricKind, MetricSpec

__all__ = [
    "CupedArm",
    "CupedRatioArm",
    "cuped_eligible",
    "cuped_ratio_eligible",
    "poststratify_cuped",
    "stratified_cuped_effect",
    "stratified_cuped_ratio_effect",
]


@dataclass(frozen=True, slots=True)
class CupedArm:
    """One arm in one stratum: n, Σy, Σy², Σx, Σx², Σxy (x the pre-period covariate)."""

    n: float
    y: float
    yy: float
    x: float
    xx: float
    xy: float

    def __add__(self, o: CupedArm) -> CupedArm:
        return CupedArm(
            self.n + o.n, self.y + o.y, self.yy + o.yy, self.x + o.x, self.xx + o.xx, self.xy + o.xy
        )

    @property
    def post(self) -> Arm:
        return Arm(self.n, self.y, self.yy)

    @property
    def pre(self) -> Arm:
        return Arm(self.n, self.x, self.xx)


def _stratum(c: CupedArm, t: CupedArm) -> tuple[np.ndarray, np.ndarray] | str:
    """(control mean, effect) and their covariance scaled by n, for one stratum."""
    n = c.n + t.n
    if c.pre.var <= 0 or t.pre.var <= 0:  # no covariate variance: the unadjusted comparison
        vc, vt = c.post.var * n / c.n, t.post.var * n / t.n
        return np.array([c.post.mean, t.post.mean - c.post.mean]), np.array(
            [[vc, -vc], [-vc, vt + vc]]
        )
    xtx = np.array([[n, t.n, c.x + t.x], [t.n, t.n, t.x], [c.x + t.x, t.x, c.xx + t.xx]])
    xty = np.array([c.y + t.y, t.y, c.xy + t.xy])
    try:
        inv = np.linalg.inv(xtx)
    except np.linalg.LinAlgError:
        return "the stratum's regression is singular"
    gamma = inv @ xty
    sigma2 = (c.yy + t.yy - xty @ inv @ xty) / (n - 3)
    coef_cov = sigma2 * inv
    pooled = c.pre + t.pre
    m = np.array([[1.0, 0.0, pooled.mean], [0.0, 1.0, 0.0]])
    c00 = np.zeros((3, 3))
    c00[2, 2] = pooled.var / n
    cov = np.empty((2, 2))
    for i in range(2):
        for j in range(i + 1):
            extra = c00 if i == j == 0 else np.zeros((3, 3))
            second = extra + np.outer(m[i], m[j])
            value = np.trace(coef_cov @ second) + np.trace(np.outer(gamma, gamma) @ extra)
            cov[i, j] = cov[j, i] = n * value
    return m @ gamma, cov


def _viable(c: CupedArm, t: CupedArm) -> bool:
    return c.n >= 2 and t.n >= 2 and c.post.var > 0 and t.post.var > 0 and c.n + t.n > 3


def stratified_cuped_effect(cells: Sequence[tuple[CupedArm, CupedArm]]) -> PostStratified | str:
    """Return the post-stratified CUPED comparison, or a reason."""
    kept = pool_strata(cells, _viable)
    if isinstance(kept, str):
        return kept
    if len(kept) == 1:  # gbstats: one stratum is the ordinary CUPED comparison
        return "a single stratum (the unstratified CUPED comparison applies)"
    whole_c = sum((c for c, _ in kept[1:]), kept[0][0])
    whole_t = sum((t for _, t in kept[1:]), kept[0][1])
    if whole_c.pre.var <= 0 or whole_t.pre.var <= 0:  # no covariate anywhere: unadjusted
        kept = [(CupedArm(c.n, c.y, c.yy, 0.0, 0.0, 0.0), CupedArm(t.n, t.y, t.yy, 0.0, 0.0, 0.0))
                for c, t in kept]  # fmt: skip
    n = np.array([c.n + t.n for c, t in kept])
    alphas, covs = [], []
    for c, t in kept:
        got = _stratum(c, t)
        if isinstance(got, str):
            return got
        alphas.append(got[0])
        covs.append(got[1])
    return count_summary(n, np.array(alphas).T, covs)


def cuped_eligible(spec: MetricSpec) -> bool:
    """A mean (or proportion) of one component with its own pre-period covariate."""
    x, c = f"{spec.name}.x", f"{spec.name}.c"
    return (
        spec.kind in (MetricKind.MEAN, MetricKind.PROPORTION)
        and spec.cuped == {x: c}
        and spec.components == frozenset({x, c})
    )


def _arm(spec: MetricSpec, moments: Moments | None) -> CupedArm:
    if moments is None or moments.n == 0:
        return CupedArm(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    y, x = f"{spec.name}.x", f"{spec.name}.c"
    s, p = moments.sums, moments.products
    xy = p.get((x, y), p.get((y, x), 0.0))
    return CupedArm(
        float(moments.n), s.get(y, 0.0), p.get((y, y), 0.0), s.get(x, 0.0), p.get((x, x), 0.0), xy
    )


def poststratify_cuped(
    spec: MetricSpec, data: ExperimentData, strata: str, control: str, treatment: str
) -> PostStratified | str:
    """The post-stratified CUPED comparison from the ``strata`` segment rows."""
    pairs = []
    for seg in data.segments:
        if seg.segment == strata:
            arms = [seg.variants.get(v) for v in (control, treatment)]
            pairs.append([a.moments.get(spec.name) if a is not None else None for a in arms])
    if not pairs:
        return f"no statistics for the strata of '{strata}'"
    if spec.kind is MetricKind.RATIO:
        return stratified_cuped_ratio_effect(
            [(_ratio_arm(spec, c), _ratio_arm(spec, t)) for c, t in pairs]
        )
    return stratified_cuped_effect([(_arm(spec, c), _arm(spec, t)) for c, t in pairs])


_ORDER = ("x", "y", "c", "d")  # numerator, denominator, and their pre-period covariates


@dataclass(frozen=True, slots=True)
class CupedRatioArm:
    """One arm in one stratum of a CUPED ratio: n, Σ of (x, y, c, d) and all their Σ products."""

    n: float
    sums: tuple[float, ...]  # Σx, Σy, Σc, Σd
    products: tuple[tuple[float, ...], ...]  # 4 × 4, symmetric

    def __add__(self, o: CupedRatioArm) -> CupedRatioArm:
        p = np.array(self.products) + np.array(o.products)
        return CupedRatioArm(
            self.n + o.n,
            tuple(np.add(self.sums, o.sums).tolist()),
            tuple(tuple(r) for r in p.tolist()),
        )

    def ratio(self, a: int, b: int) -> RatioArm:
        s, p = self.sums, self.products
        return RatioArm(self.n, s[a], p[a][a], s[b], p[b][b], p[a][b])

    def var(self, k: int) -> float:
        if self.n <= 1:
            return 0.0
        return (self.products[k][k] - self.sums[k] ** 2 / self.n) / (self.n - 1)


def _ratio_stratum(c: CupedRatioArm, t: CupedRatioArm) -> tuple[np.ndarray, np.ndarray]:
    """(x̄_c, Δx̄, ȳ_c, Δȳ) and their covariance scaled by n, from the per-stratum regression."""
    n = c.n + t.n
    both = c + t
    s, p, st = np.array(both.sums), np.array(both.products), np.array(t.sums)
    xtx = np.array(
        [
            [n, t.n, s[2], s[3]],
            [t.n, t.n, st[2], st[3]],
            [s[2], st[2], p[2, 2], p[2, 3]],
            [s[3], st[3], p[2, 3], p[3, 3]],
        ]
    )
    inv = np.linalg.inv(xtx)
    xty = [np.array([s[k], st[k], p[k, 2], p[k, 3]]) for k in (0, 1)]
    gam = [inv @ v for v in xty]
    sigma = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            cross = p[i, j] - xty[i] @ gam[j] - xty[j] @ gam[i] + gam[i] @ xtx @ gam[j]
            sigma[i, j] = cross / (n - 6)
    coef_cov = np.kron(sigma, inv)
    gamma = np.concatenate(gam)
    mc, md = s[2] / n, s[3] / n
    vc, vd = both.var(2), both.var(3)
    cov_cd = (p[2, 3] - s[2] * s[3] / n) / (n - 1)
    m = np.zeros((4, 8))
    m[0, [0, 2, 3]] = [1, mc, md]
    m[1, 1] = 1
    m[2, [4, 6, 7]] = [1, mc, md]
    m[3, 5] = 1
    block = np.array([[vc, cov_cd], [cov_cd, vd]]) / n

    def extra(i: int, j: int) -> np.ndarray:
        v = np.zeros((8, 8))
        rows = {0: slice(2, 4), 2: slice(6, 8)}
        if i in rows and j in rows:
            v[rows[i], rows[j]] = block
        return v

    cov = np.empty((4, 4))
    for i in range(4):
        for j in range(i + 1):
            e = extra(i, j)
            value = np.trace(coef_cov @ (e + np.outer(m[i], m[j]))) + np.trace(
                np.outer(gamma, gamma) @ e
            )
            cov[i, j] = cov[j, i] = n * value
    return m @ gamma, cov


def _plain(c: CupedRatioArm, t: CupedRatioArm) -> tuple[np.ndarray, np.ndarray]:
    """The unadjusted ratio stratum (no covariate variance)."""
    rc, rt = c.ratio(0, 1), t.ratio(0, 1)
    n = c.n + t.n
    v = np.zeros((4, 4))
    v[:2, :2], v[2:, 2:] = rt.cov * n / rt.n, rc.cov * n / rc.n
    alpha = RATIO_CONTRAST @ np.concatenate([rt.means, rc.means])
    return alpha, RATIO_CONTRAST @ v @ RATIO_CONTRAST.T


def _no_covariate(a: CupedRatioArm) -> bool:
    return a.var(2) <= 0 or a.var(3) <= 0


def stratified_cuped_ratio_effect(
    cells: Sequence[tuple[CupedRatioArm, CupedRatioArm]],
) -> PostStratified | str:
    """Return the post-stratified CUPED ratio comparison (gbstats
    ``CreateStrataResultRegressionAdjustedRatio``), or a reason."""

    def viable(c: CupedRatioArm, t: CupedRatioArm) -> bool:
        return c.ratio(0, 1).viable() and t.ratio(0, 1).viable() and c.n + t.n > 6

    kept = pool_strata(cells, viable)
    if isinstance(kept, str):
        return kept
    if len(kept) == 1:  # gbstats: one stratum is the ordinary CUPED comparison
        return "a single stratum (the unstratified CUPED comparison applies)"
    whole_c = sum((c for c, _ in kept[1:]), kept[0][0])
    whole_t = sum((t for _, t in kept[1:]), kept[0][1])
    unadjusted = _no_covariate(whole_c) or _no_covariate(whole_t)
    n = np.array([c.n + t.n for c, t in kept])
    parts = [
        _plain(c, t) if unadjusted or _no_covariate(c) or _no_covariate(t) else _ratio_stratum(c, t)
        for c, t in kept
    ]
    return ratio_summary(n, np.array([a for a, _ in parts]).T, [v for _, v in parts])


def cuped_ratio_eligible(spec: MetricSpec) -> bool:
    """A ratio Σx/Σy of its own components with CUPED covariates c and d."""
    x, y, c, d = (f"{spec.name}.{k}" for k in _ORDER)
    return (
        spec.kind is MetricKind.RATIO
        and spec.cuped == {x: c, y: d}
        and spec.components == frozenset({x, y, c, d})
    )


def _ratio_arm(spec: MetricSpec, moments: Moments | None) -> CupedRatioArm:
    keys = [f"{spec.name}.{k}" for k in _ORDER]
    if moments is None or moments.n == 0:
        return CupedRatioArm(0.0, (0.0,) * 4, ((0.0,) * 4,) * 4)
    p = moments.products

    def prod(a: str, b: str) -> float:
        return p.get((a, b), p.get((b, a), 0.0))

    return CupedRatioArm(
        float(moments.n),
        tuple(moments.sums.get(k, 0.0) for k in keys),
        tuple(tuple(prod(a, b) for b in keys) for a in keys),
    )
