"""Post-stratification of mean and proportion metrics by a pre-exposure dimension.

The estimator and its variance are gbstats' (``EffectMomentsPostStratification`` with
``CreateStrataResult`` and ``PostStratificationSummary``, growthbook/growthbook 8f1db44),
for count-type metrics (means and proportions, without CUPED):

* per stratum k, with n_k units (both arms), control mean c_k and effect e_k = t_k − c_k;
  the covariance of (c_k, e_k) scaled by n_k is [[V_c, −V_c], [−V_c, V_t + V_c]] with
  V_c = s²_c·n_k/n_c,k and V_t = s²_t·n_k/n_t,k (sample variances, n − 1; p(1 − p) for
  proportions);
* the strata weights are the observed shares ν̂_k = n_k/N; the post-stratified control mean
  and effect are Σ ν̂_k (c_k, e_k), and their covariance treats the strata counts as
  multinomial: A(diag ν̂ − ν̂ν̂ᵀ)Aᵀ/N + Σ ν̂_k Cov_k/N (A the 2 × K matrix of (c_k, e_k));
* absolute effect Σν̂e; relative effect Σν̂e/|Σν̂c| with the delta-method gradient.

A stratum with an arm of fewer than two units or zero variance in either arm is merged into
the largest stratum before anything is computed (gbstats ``combine_cells_for_analysis``);
with a single stratum left the estimate is the unstratified one. The strata come from the
segment rows of the dimension (`ExperimentData` with that segment): the long format already
carries per-stratum, per-variant sums, so no new statistics are needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
    "apply",
    "eligible",
    "overrides",
    "poststratify",
    "stratified_effect",
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


def _combine(cells: Sequence[tuple[Arm, Arm]]) -> list[tuple[Arm, Arm]]:
    ordered = sorted(cells, key=lambda ct: ct[0].n + ct[1].n, reverse=True)
    kept = [ordered[0]]
    for c, t in ordered[1:]:
        if _viable(c, t):
            kept.append((c, t))
        else:
            kept[0] = (kept[0][0] + c, kept[0][1] + t)
    return kept


def stratified_effect(cells: Sequence[tuple[Arm, Arm]]) -> PostStratified | str:
    """Return the post-stratified effect of (control, treatment) per stratum, or a reason."""
    cells = _combine([ct for ct in cells if ct[0].n + ct[1].n > 0])
    if not cells or not _viable(*cells[0]):
        return "zero variance or fewer than 2 units in an arm"
    n = np.array([c.n + t.n for c, t in cells])
    total = float(n.sum())
    nu = n / total
    alpha = np.array([[c.mean for c, _ in cells], [t.mean - c.mean for c, t in cells]])
    cov_cells = np.zeros((2, 2))
    for k, (c, t) in enumerate(cells):
        vc, vt = c.var * n[k] / c.n, t.var * n[k] / t.n
        cov_cells += nu[k] * np.array([[vc, -vc], [-vc, vt + vc]])
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
        len(cells),
    )


def _arm(spec: MetricSpec, moments: Moments | None) -> Arm:
    proportion = spec.kind is MetricKind.PROPORTION
    if moments is None or moments.n == 0:
        return Arm(0.0, 0.0, 0.0, proportion)
    key = f"{spec.name}.x"
    s, ss = moments.sums.get(key, 0.0), moments.products.get((key, key), 0.0)
    return Arm(float(moments.n), s, ss, proportion)


def eligible(spec: MetricSpec) -> bool:
    """Whether post-stratification applies: a mean or proportion of one component, no CUPED."""
    return (
        spec.kind in (MetricKind.MEAN, MetricKind.PROPORTION)
        and not spec.cuped
        and spec.components == frozenset({f"{spec.name}.x"})
    )


def poststratify(
    spec: MetricSpec, data: ExperimentData, strata: str, control: str, treatment: str
) -> PostStratified | str | None:
    """Return the post-stratified comparison from the ``strata`` segment rows.

    None when the metric is not eligible; a reason string when it cannot be computed.
    """
    if not eligible(spec):
        return None
    cells = []
    for seg in data.segments:
        if seg.segment != strata:
            continue
        arms = [seg.variants.get(v) for v in (control, treatment)]
        moms = [a.moments.get(spec.name) if a is not None else None for a in arms]
        cells.append((_arm(spec, moms[0]), _arm(spec, moms[1])))
    if not cells:
        return f"no statistics for the strata of '{strata}'"
    return stratified_effect(cells)


def overrides(
    strata: str | None, rows: Sequence[Prepared], data: ExperimentData
) -> tuple[dict[int, PostStratified], dict[str, str]]:
    """Post-stratified comparisons of the overall rows, by row index, and a note per row.

    A row whose strata cannot be used keeps its unstratified comparison; the note says why.
    """
    found: dict[int, PostStratified] = {}
    notes: dict[str, str] = {}
    if strata is None:
        return found, notes
    for i, row in enumerate(rows):
        if not row.segment.is_overall or row.pair is None:
            continue
        got = poststratify(row.spec, data, strata, row.control, row.treatment)
        key = f"{row.spec.name} ({row.treatment})"
        if got is None:
            notes[key] = "not post-stratified: only means and proportions without CUPED are"
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
