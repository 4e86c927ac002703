"""Post-stratification by a pre-exposure dimension: means, proportions and ratios.

The estimator and its variance are gbstats' (``EffectMomentsPostStratification`` with
``CreateStrataResult`` and ``PostStratificationSummary``, growthbook/growthbook 8f1db44).
For means and proportions:

* per stratum k, with n_k units (both arms), control mean c_k and effect e_k = t_k − c_k;
  the covariance of (c_k, e_k) scaled by n_k is [[V_c, −V_c], [−V_c, V_t + V_c]] with
  V_c = s²_c·n_k/n_c,k and V_t = s²_t·n_k/n_t,k (sample variances, n − 1; p(1 − p) for
  proportions);
* the strata weights are the observed shares ν̂_k = n_k/N; the post-stratified control mean
  and effect are Σ ν̂_k (c_k, e_k), and their covariance treats the strata counts as
  multinomial: A(diag ν̂ − ν̂ν̂ᵀ)Aᵀ/N + Σ ν̂_k Cov_k/N (A the 2 × K matrix of (c_k, e_k));
* absolute effect Σν̂e; relative effect Σν̂e/|Σν̂c| with the delta-method gradient.

Ratios carry four moments per stratum (`stratified_ratio_effect`); CUPED means fit a
regression per stratum (`poststrat_cuped.py`); other metrics keep their unstratified
comparison.

A stratum with an arm of fewer than two units or zero variance in either arm is merged into
the largest stratum before anything is computed (gbstats ``combine_cells_for_analysis``);
with a single stratum left the estimate is the unstratified one. The strata come from the
segment rows of the dimension (`ExperimentData` with that segment): the long format already
carries per-stratum, per-variant sums, so no new statistics are needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from metricspec.stats.data import ExperimentData
from metricspec.stats.moments import Moments
from metricspec.stats.prepare import Prepared
from metricspec.stats.spec import MetricKind, MetricSpec

Array = npt.NDArray[np.float64]

__all__ = [
    "Arm",
    "PostStratified",
    "RatioArm",
    "apply",
    "count_summary",
    "eligible",
    "overrides",
    "poststratify",
    "ratio_summary",
    "stratified_effect",
    "stratified_ratio_effect",
]


@dataclass(frozen=True, slots=True)
class Arm:
    """One arm in one stratum: units n, Σv and Σv² (a proportion's variance is p(1 − p))."""

    n: float
    total: float
    squares: float
    proportion: bool = False

    def __add__(self, other: Arm) -> Arm:
        return Arm(
            self.n + other.n,
            self.total + other.total,
            self.squares + other.squares,
            self.proportion,
        )

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n > 0 else 0.0

    @property
    def var(self) -> float:
        if self.proportion:
            return self.mean * (1.0 - self.mean)
        if self.n <= 1:
            return 0.0
        return (self.squares - self.total**2 / self.n) / (self.n - 1)


@dataclass(frozen=True, slots=True)
class PostStratified:
    """The post-stratified effect on both scales."""

    diff: float
    se: float
    lift: float
    lift_se: float
    strata: int


def _viable(c: Arm, t: Arm) -> bool:
    return c.n >= 2 and t.n >= 2 and c.var > 0 and t.var > 0


class _Cell(Protocol):
    @property
    def n(self) -> float: ...

    def __add__(self, other: Any) -> Any: ...


C = TypeVar("C", bound=_Cell)


def pool_strata(cells: Sequence[tuple[C, C]], viable: Callable[[C, C], bool]
                ) -> list[tuple[C, C]] | str:
    """The strata to analyse, largest first: a stratum that cannot be analysed on its own
    (`viable` false) is pooled into the largest, as gbstats does; or why none can be."""
    live = [ct for ct in cells if ct[0].n + ct[1].n > 0]
    if not live:
        return "no units"
    ordered = sorted(live, key=lambda ct: ct[0].n + ct[1].n, reverse=True)
    kept = [ordered[0]]
    for c, t in ordered[1:]:
        if viable(c, t):
            kept.append((c, t))
        else:
            kept[0] = (kept[0][0] + c, kept[0][1] + t)
    if not viable(*kept[0]):
        return "zero variance or fewer than 2 units in an arm"
    return kept


def stratified_effect(cells: Sequence[tuple[Arm, Arm]]) -> PostStratified | str:
    """Return the post-stratified effect of (control, treatment) per stratum, or a reason."""
    pooled = pool_strata(cells, _viable)
    if isinstance(pooled, str):
        return pooled
    cells = pooled
    n = np.array([c.n + t.n for c, t in cells])
    alpha = np.array([[c.mean for c, _ in cells], [t.mean - c.mean for c, t in cells]])
    covs = []
    for k, (c, t) in enumerate(cells):
        vc, vt = c.var * n[k] / c.n, t.var * n[k] / t.n
        covs.append(np.array([[vc, -vc], [-vc, vt + vc]]))
    return count_summary(n, alpha, covs)


def count_summary(
    n: npt.NDArray[np.float64], alpha: npt.NDArray[np.float64], covs: Sequence[Array]
) -> PostStratified | str:
    """Combine strata: ``alpha`` is 2 × K (control mean, effect), ``covs`` their covariances
    scaled by the stratum sizes ``n`` (gbstats ``PostStratificationSummary``)."""
    total = float(n.sum())
    nu = n / total
    cov_cells = sum((nu[k] * covs[k] for k in range(len(covs))), np.zeros((2, 2)))
    multinomial = np.diag(nu) - np.outer(nu, nu)
    cov = (alpha @ multinomial @ alpha.T + cov_cells) / total
    control, effect = alpha @ nu
    if control == 0:
        return "control value is zero; relative lift undefined"
    grad = np.array([-effect / control**2, 1.0 / control])
    var_rel = float(grad @ cov @ grad)
    if cov[1, 1] <= 0 or var_rel <= 0:
        return "zero variance in both arms"
    return PostStratified(
        float(effect),
        float(np.sqrt(cov[1, 1])),
        float(effect / abs(control)),
        float(np.sqrt(var_rel)),
        len(covs),
    )


@dataclass(frozen=True, slots=True)
class RatioArm:
    """One arm in one stratum of a ratio Σx/Σy: n, Σx, Σx², Σy, Σy², Σxy."""

    n: float
    x: float
    xx: float
    y: float
    yy: float
    xy: float

    def __add__(self, o: RatioArm) -> RatioArm:
        return RatioArm(
            self.n + o.n, self.x + o.x, self.xx + o.xx, self.y + o.y, self.yy + o.yy, self.xy + o.xy
        )

    @property
    def means(self) -> np.ndarray:
        return np.array([self.x, self.y]) / self.n

    @property
    def cov(self) -> np.ndarray:
        """Sample covariance (n − 1) of (x, y)."""
        n = self.n
        c = (
            np.array([[self.xx, self.xy], [self.xy, self.yy]])
            - np.outer([self.x, self.y], [self.x, self.y]) / n
        )
        return c / (n - 1)

    def viable(self) -> bool:
        """gbstats: the ratio's delta-method variance is positive (n ≥ 2, ȳ ≠ 0)."""
        if self.n < 2 or self.y == 0:
            return False
        r, cov = self.x / self.y, self.cov
        return bool(cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1] > 0)


def stratified_ratio_effect(cells: Sequence[tuple[RatioArm, RatioArm]]) -> PostStratified | str:
    """Return the post-stratified ratio comparison (gbstats ``CreateStrataResultRatio`` and
    ``PostStratificationSummaryRatio``), or a reason.

    Per stratum α_k = (x̄_c, x̄_t − x̄_c, ȳ_c, ȳ_t − ȳ_c) with the contrast of the per-arm
    covariances; the ratio of the weighted means is compared, R_t/R_c − 1 relative.
    """
    kept = pool_strata(cells, lambda c, t: c.viable() and t.viable())
    if isinstance(kept, str):
        return kept
    n = np.array([c.n + t.n for c, t in kept])
    alpha = np.empty((4, len(kept)))
    covs = []
    for k, (c, t) in enumerate(kept):
        alpha[:, k] = RATIO_CONTRAST @ np.concatenate([t.means, c.means])
        v = np.zeros((4, 4))
        v[:2, :2], v[2:, 2:] = t.cov * n[k] / t.n, c.cov * n[k] / c.n
        covs.append(RATIO_CONTRAST @ v @ RATIO_CONTRAST.T)
    return ratio_summary(n, alpha, covs)


RATIO_CONTRAST = np.array([[0, 0, 1, 0], [1, 0, -1, 0], [0, 0, 0, 1], [0, 1, 0, -1]], float)


def ratio_summary(n: Array, alpha: Array, covs: Sequence[Array]) -> PostStratified | str:
    """Combine ratio strata: ``alpha`` is 4 × K (x̄_c, Δx̄, ȳ_c, Δȳ), ``covs`` their
    covariances scaled by the stratum sizes (gbstats ``PostStratificationSummaryRatio``)."""
    total = float(n.sum())
    nu = n / total
    cov_cells = sum((nu[k] * covs[k] for k in range(len(covs))), np.zeros((4, 4)))
    cov = (alpha @ (np.diag(nu) - np.outer(nu, nu)) @ alpha.T + cov_cells) / total
    m0, m1, m2, m3 = alpha @ nu  # x̄_c, Δx̄, ȳ_c, Δȳ (weighted)
    if m2 == 0 or m2 + m3 == 0 or m0 == 0:
        return "control value is zero; relative lift undefined"
    r_t, r_c = (m0 + m1) / (m2 + m3), m0 / m2
    g_t = np.array([1 / (m2 + m3), 1 / (m2 + m3), -r_t / (m2 + m3), -r_t / (m2 + m3)])
    g_c = np.array([1 / m2, 0.0, -r_c / m2, 0.0])
    g_abs = g_t - g_c
    g_rel = (g_t * r_c - r_t * g_c) / r_c**2
    var_abs, var_rel = float(g_abs @ cov @ g_abs), float(g_rel @ cov @ g_rel)
    if var_abs <= 0 or var_rel <= 0:
        return "zero variance in both arms"
    return PostStratified(
        float(r_t - r_c),
        float(np.sqrt(var_abs)),
        float((r_t - r_c) / abs(r_c)),
        float(np.sqrt(var_rel)),
        len(covs),
    )


def _ratio_arm(spec: MetricSpec, moments: Moments | None) -> RatioArm:
    if moments is None or moments.n == 0:
        return RatioArm(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    x, y = f"{spec.name}.x", f"{spec.name}.y"
    s, p = moments.sums, moments.products
    return RatioArm(
        float(moments.n),
        s.get(x, 0.0),
        p.get((x, x), 0.0),
        s.get(y, 0.0),
        p.get((y, y), 0.0),
        p.get((x, y), 0.0),
    )


def _arm(spec: MetricSpec, moments: Moments | None) -> Arm:
    proportion = spec.kind is MetricKind.PROPORTION
    if moments is None or moments.n == 0:
        return Arm(0.0, 0.0, 0.0, proportion)
    key = f"{spec.name}.x"
    s, ss = moments.sums.get(key, 0.0), moments.products.get((key, key), 0.0)
    return Arm(float(moments.n), s, ss, proportion)


def eligible(spec: MetricSpec) -> bool:
    """Whether post-stratification applies: a mean or proportion of one component, or a
    ratio Σx/Σy of its own two, without CUPED."""
    if spec.cuped:
        return False
    if spec.kind is MetricKind.RATIO:
        return spec.components == frozenset({f"{spec.name}.x", f"{spec.name}.y"})
    return spec.kind in (MetricKind.MEAN, MetricKind.PROPORTION) and spec.components == frozenset(
        {f"{spec.name}.x"}
    )


def poststratify(
    spec: MetricSpec, data: ExperimentData, strata: str, control: str, treatment: str
) -> PostStratified | str | None:
    """Return the post-stratified comparison from the ``strata`` segment rows.

    None when the metric is not eligible; a reason string when it cannot be computed.
    """
    if not eligible(spec):
        return None
    pairs = []
    for seg in data.segments:
        if seg.segment != strata:
            continue
        arms = [seg.variants.get(v) for v in (control, treatment)]
        pairs.append([a.moments.get(spec.name) if a is not None else None for a in arms])
    if not pairs:
        return f"no statistics for the strata of '{strata}'"
    if spec.kind is MetricKind.RATIO:
        return stratified_ratio_effect(
            [(_ratio_arm(spec, c), _ratio_arm(spec, t)) for c, t in pairs]
        )
    return stratified_effect([(_arm(spec, c), _arm(spec, t)) for c, t in pairs])


def overrides(
    strata: str | None, rows: Sequence[Prepared], data: ExperimentData
) -> tuple[dict[int, PostStratified], dict[str, str]]:
    """Post-stratified comparisons of the overall rows, by row index, and a note per row.

    A row whose strata cannot be used keeps its unstratified comparison; the note says why.
    """
    from metricspec.stats.poststrat_cuped import (  # imported here: it imports this module
        cuped_eligible,
        cuped_ratio_eligible,
        poststratify_cuped,
    )

    found: dict[int, PostStratified] = {}
    notes: dict[str, str] = {}
    if strata is None:
        return found, notes
    for i, row in enumerate(rows):
        if not row.segment.is_overall or row.pair is None:
            continue
        got = poststratify(row.spec, data, strata, row.control, row.treatment)
        if got is None and (cuped_eligible(row.spec) or cuped_ratio_eligible(row.spec)):
            got = poststratify_cuped(row.spec, data, strata, row.control, row.treatment)
        key = f"{row.spec.name} ({row.treatment})"
        if got is None:
            notes[key] = "not post-stratified: only means, proportions and ratios are"
        elif isinstance(got, str):
            notes[key] = f"not post-stratified: {got}"
        else:
            found[i] = got
            notes[key] = f"post-stratified over {got.strata} strata"
    return found, notes


def apply(out: dict[str, Array], found: dict[int, PostStratified]) -> None:
    """Replace the rows' effects and standard errors by their post-stratified values."""
    for i, ps in found.items():
        out["diff"][i], out["se"][i] = ps.diff, ps.se
        out["lift"][i], out["lift_se"][i] = ps.lift, ps.lift_se
