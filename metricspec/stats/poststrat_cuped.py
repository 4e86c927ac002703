"""Post-stratification of CUPED-adjusted means (gbstats ``CreateStrataResultRegressionAdjusted``).

Per stratum, the regression y = γ₀ + γ₁·treated + γ₂·x + ε over both arms' units (x the
pre-period covariate), fitted from the sums alone: XᵀX = [[n, n_t, Σx], [n_t, n_t, Σx_t],
[Σx, Σx_t, Σx²]], Xᵀy = [Σy, Σy_t, Σxy], σ̂² = (Σy² − Xᵀyᵀ(XᵀX)⁻¹Xᵀy)/(n − 3). The stratum's
control mean is γ₀ + γ₂·x̄ (x̄ pooled) and its effect γ₁, with covariance (scaled by n)
n·[tr(Cov γ·(C_ij + m_i m_jᵀ)) + tr(γγᵀ C_ij)], C₀₀ carrying the sampling variance of x̄.
The strata are then combined as for unadjusted means (`poststrat.count_summary`). A stratum
whose covariate has no variance in an arm falls back to its unadjusted comparison, and the
whole metric does when the covariate has none in an arm overall (gbstats
``simplify_stats_if_baseline_variance_zero``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from metricspec.stats.data import ExperimentData
from metricspec.stats.moments import Moments
from metricspec.stats.poststrat import Arm, PostStratified, count_summary
from metricspec.stats.spec import MetricKind, MetricSpec

__all__ = ["CupedArm", "cuped_eligible", "poststratify_cuped", "stratified_cuped_effect"]


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
    live = [ct for ct in cells if ct[0].n + ct[1].n > 0]
    if not live:
        return "no units"
    ordered = sorted(live, key=lambda ct: ct[0].n + ct[1].n, reverse=True)
    kept = [ordered[0]]
    for c, t in ordered[1:]:
        if _viable(c, t):
            kept.append((c, t))
        else:
            kept[0] = (kept[0][0] + c, kept[0][1] + t)
    if not _viable(*kept[0]):
        return "zero variance or fewer than 2 units in an arm"
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
    cells = []
    for seg in data.segments:
        if seg.segment == strata:
            arms = [seg.variants.get(v) for v in (control, treatment)]
            moms = [a.moments.get(spec.name) if a is not None else None for a in arms]
            cells.append((_arm(spec, moms[0]), _arm(spec, moms[1])))
    if not cells:
        return f"no statistics for the strata of '{strata}'"
    return stratified_cuped_effect(cells)
