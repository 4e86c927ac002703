"""Regression adjustment with several covariates, from per-arm sums of monomials.

CUPED adjusts a metric y with one pre-period covariate; this module adjusts it with any
number p of covariates x_1 … x_p (pre-period metrics, pre-exposure unit attributes). The
warehouse returns, per arm, n and the sums of the monomials named by `monomials`; units
never leave it. Two estimators (docs/statistics.md, "Regression adjustment"):

* `cuped_adjust` — CUPED generalised (second-order sums): θ = S_xx⁻¹ S_xy from the pooled
  sample of both arms (the multivariate OLS slope of y on x, arms ignored, as CUPED's θ);
  each arm's adjusted mean ȳ − θᵀ(x̄ − x̄_pooled) and per-unit variance of y − θᵀx
  (n − 1), Welch's t. With one covariate this *is* the engine's CUPED for a mean metric.
* `ols_adjust` — OLS of y on (1, T, x) over the two arms (a common slope: ANCOVA) with a
  heteroscedasticity-robust sandwich variance. HC0 and HC1 are polynomials of degree 4 in
  the unit data, so they are computed exactly from fourth-order sums (`order=4`); HC2 and
  HC3 weight each unit by its leverage and cannot be computed from sums. It equals
  statsmodels `OLS(y, [1, T, x]).fit(cov_type="HC1")` (or HC0) to rounding, with the
  normal reference distribution statsmodels uses for robust covariances.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

__all__ = [
    "ArmSums",
    "RegressionResult",
    "cuped_adjust",
    "monomials",
    "ols_adjust",
    "unit_sums",
]

Key = tuple[str, ...]
Y = "y"


def monomials(covariates: Sequence[str], order: int = 2) -> tuple[Key, ...]:
    """The monomials whose sums an estimator needs, each a sorted tuple of variable names
    (`y` and the covariates): order 2 → every Σv and Σv·w; order 4 → also every
    Σ a·b·u·w with a, b ∈ {1, y, x} and u, w ∈ {1, x} (the sandwich's meat)."""
    if order not in (2, 4):
        raise ValueError("order must be 2 or 4")
    if Y in covariates or len(set(covariates)) != len(covariates):
        raise ValueError("covariate names must be distinct and not 'y'")
    w = ("1", Y, *covariates)
    u = ("1", *covariates)
    found: set[Key] = set()
    for a, b in itertools.combinations_with_replacement(w, 2):
        found.add(_key((a, b)))
    if order == 4:
        for a, b in itertools.combinations_with_replacement(w, 2):
            for c, d in itertools.combinations_with_replacement(u, 2):
                found.add(_key((a, b, c, d)))
    found.discard(())
    return tuple(sorted(found, key=lambda k: (len(k), k)))


def _key(names: Sequence[str]) -> Key:
    return tuple(sorted(n for n in names if n != "1"))


@dataclass(frozen=True, slots=True)
class ArmSums:
    """One arm: n units and Σ over units of each monomial (keys from `monomials`)."""

    n: int
    sums: Mapping[Key, float]

    def s(self, *names: str) -> float:
        key = _key(names)
        if not key:
            return float(self.n)
        if key not in self.sums:
            raise KeyError(f"missing the sum of {'·'.join(key)}")
        return float(self.sums[key])


def unit_sums(y: npt.ArrayLike, x: npt.ArrayLike, covariates: Sequence[str],
              order: int = 2) -> ArmSums:
    """The sums a warehouse returns for one arm, from unit rows (for tests and examples)."""
    ys = np.asarray(y, dtype=float)
    xs = np.asarray(x, dtype=float).reshape(len(ys), len(covariates))
    columns = {Y: ys, **{c: xs[:, j] for j, c in enumerate(covariates)}}
    sums = {key: float(np.prod([columns[v] for v in key], axis=0).sum())
            for key in monomials(covariates, order)}
    return ArmSums(len(ys), sums)


@dataclass(frozen=True, slots=True)
class RegressionResult:
    """One comparison, adjusted for `covariates`.

    Attributes:
        method: ``"cuped"`` or ``"ols-HC0"`` / ``"ols-HC1"``.
        theta: The slope of each covariate (shared by both arms).
        control_mean, treatment_mean: Adjusted means at the pooled covariate means.
        effect: treatment − control, adjusted; ``se`` its standard error.
        df: Welch–Satterthwaite degrees of freedom (CUPED), or None for the normal (OLS).
        variance_reduction: 1 − Var(adjusted effect) / Var(unadjusted difference).
        reason: Why nothing could be estimated (other fields are then None).
    """

    method: str
    covariates: tuple[str, ...]
    n_control: int
    n_treatment: int
    theta: tuple[float, ...] | None = None
    control_mean: float | None = None
    treatment_mean: float | None = None
    effect: float | None = None
    se: float | None = None
    df: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    p_value: float | None = None
    variance_reduction: float | None = None
    reason: str = ""


def _matrices(arm: ArmSums, names: Sequence[str]) -> tuple[npt.NDArray[np.float64],
                                                               npt.NDArray[np.float64]]:
    """Σ v·wᵀ over (1, names) and the vector Σ v, for one arm."""
    full = ("1", *names)
    m = np.array([[arm.s(a, b) for b in full] for a in full], dtype=float)
    return m, m[0]


def _unadjusted_var(arm: ArmSums) -> float:
    return (arm.s(Y, Y) - arm.s(Y) ** 2 / arm.n) / (arm.n - 1)


def _finish(method: str, covariates: tuple[str, ...], control: ArmSums, treatment: ArmSums,
            theta: npt.NDArray[np.float64], means: tuple[float, float], var: float,
            df: float | None, alpha: float) -> RegressionResult:
    effect = means[1] - means[0]
    se = math.sqrt(max(var, 0.0))
    raw = _unadjusted_var(control) / control.n + _unadjusted_var(treatment) / treatment.n
    q = float(special.stdtrit(df, 1 - alpha / 2)) if df else float(special.ndtri(1 - alpha / 2))
    if se > 0.0:
        stat = abs(effect) / se
        p = float(2 * special.stdtr(df, -stat)) if df else float(2 * special.ndtr(-stat))
    else:
        p = float("nan")
    effect = float(effect)
    return RegressionResult(
        method, covariates, control.n, treatment.n, tuple(float(t) for t in theta),
        float(means[0]), float(means[1]), effect, se, df, effect - q * se, effect + q * se, p,
        1.0 - var / raw if raw > 0.0 else None)


def cuped_adjust(control: ArmSums, treatment: ArmSums, covariates: Sequence[str],
                 alpha: float = 0.05) -> RegressionResult:
    """CUPED with several covariates: pooled θ, per-arm variance of y − θᵀx, Welch's t."""
    cov = tuple(covariates)
    if control.n < 2 or treatment.n < 2:
        return RegressionResult("cuped", cov, control.n, treatment.n,
                                reason="insufficient data: fewer than 2 units in an arm")
    names = (Y, *cov)
    mc, _ = _matrices(control, names)
    mt, _ = _matrices(treatment, names)
    pooled = mc + mt
    n = pooled[0, 0]
    centred = pooled[1:, 1:] - np.outer(pooled[0, 1:], pooled[0, 1:]) / n  # (n−1)·Σ over (y, x)
    s_xx, s_xy = centred[1:, 1:], centred[1:, 0]
    theta = _solve(s_xx, s_xy)
    pooled_x = pooled[0, 2:] / n
    means: list[float] = []
    var = 0.0
    parts: list[tuple[float, int]] = []
    a = np.concatenate(([1.0], -theta))  # y − θᵀx as a combination of (y, x)
    for m in (mc, mt):
        k = m[0, 0]
        c = m[1:, 1:] - np.outer(m[0, 1:], m[0, 1:]) / k
        v = float(a @ c @ a) / (k - 1)
        means.append(float(m[0, 1] / k - theta @ (m[0, 2:] / k - pooled_x)))
        var += v / k
        parts.append((v, int(k)))
    (vc, nc), (vt, nt) = parts
    ua, ub = vc / nc, vt / nt
    den = ua * ua / (nc - 1) + ub * ub / (nt - 1)
    df = (ua + ub) ** 2 / den if den > 0.0 else float(nc + nt - 2)
    return _finish("cuped", cov, control, treatment, theta, (means[0], means[1]), var, df,
                   alpha)


def _solve(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """a⁻¹b, with covariates that have no variance (or are collinear) getting slope 0."""
    if a.size == 0:
        return np.zeros(0)
    return np.asarray(np.linalg.pinv(a, rcond=1e-12, hermitian=True) @ b, dtype=float)


def ols_adjust(control: ArmSums, treatment: ArmSums, covariates: Sequence[str],
               alpha: float = 0.05, hc: str = "HC1") -> RegressionResult:
    """OLS of y on (1, T, x) over both arms with the HC0/HC1 sandwich variance of T's
    coefficient, from fourth-order sums (`monomials(covariates, 4)`)."""
    cov = tuple(covariates)
    method = f"ols-{hc}"
    if hc not in ("HC0", "HC1"):
        raise ValueError("only HC0 and HC1 can be computed from sums")
    p = len(cov)
    if control.n + treatment.n <= p + 2 or control.n < 1 or treatment.n < 1:
        return RegressionResult(method, cov, control.n, treatment.n,
                                reason="insufficient data: no more units than coefficients")
    u = ("1", *cov)
    w = ("1", Y, *cov)
    k = p + 2
    zz = np.zeros((k, k))
    zy = np.zeros(k)
    arms = ((control, 0.0), (treatment, 1.0))
    for arm, t in arms:
        lift = _lift(t, p)  # z = L·u with u = (1, x)
        m_uu = np.array([[arm.s(a, b) for b in u] for a in u])
        zz += lift @ m_uu @ lift.T
        zy += lift @ np.array([arm.s(Y, a) for a in u])
    try:
        inv = np.linalg.inv(zz)
    except np.linalg.LinAlgError:
        return RegressionResult(method, cov, control.n, treatment.n,
                                reason="the covariates are collinear")
    beta = inv @ zy
    meat = np.zeros((k, k))
    for arm, t in arms:
        lift = _lift(t, p)
        # e = cᵀw with w = (1, y, x): c = (−(β0 + β1·t), 1, −θ)
        c = np.concatenate(([-(beta[0] + beta[1] * t), 1.0], -beta[2:]))
        inner = np.zeros((p + 1, p + 1))
        for (i, a), (j, b) in itertools.product(enumerate(w), repeat=2):
            if c[i] == 0.0 or c[j] == 0.0:
                continue
            inner += c[i] * c[j] * np.array([[arm.s(a, b, e, f) for f in u] for e in u])
        meat += lift @ inner @ lift.T
    vcov = inv @ meat @ inv
    total = control.n + treatment.n
    if hc == "HC1":
        vcov *= total / (total - k)
    pooled_x = np.array([control.s(x) + treatment.s(x) for x in cov]) / total
    theta = beta[2:]
    base = beta[0] + float(theta @ pooled_x)
    return _finish(method, cov, control, treatment, theta, (base, base + beta[1]),
                   float(vcov[1, 1]), None, alpha)


def _lift(t: float, p: int) -> npt.NDArray[np.float64]:
    """The map from u = (1, x) to z = (1, T, x) for an arm with T = t."""
    lift = np.zeros((p + 2, p + 1))
    lift[0, 0] = 1.0
    lift[1, 0] = t
    lift[2:, 1:] = np.eye(p)
    return lift
