"""Group-sequential designs: planned looks with Lan–DeMets alpha spending.

An alternative to always-valid inference (`sequential.py`) when the number of looks is fixed
in advance: K analyses at information fractions t_1 < … < t_K = 1 (share of the planned total
sample), two-sided level α spent by a spending function α(t):

* O'Brien–Fleming type (Lan & DeMets 1983): each side spends its α/2 as
  α_s(t) = 2 − 2Φ(z_{1−α/4}/√t), so α(t) = 4 − 4Φ(z_{1−α/4}/√t) in all — almost nothing
  spent early, the final boundary close to the fixed-sample one (the convention of DeMets &
  Lan 1994 and gsDesign's ``sfLDOF`` with ``test.type = 2``);
* Pocock type: α(t) = α·ln(1 + (e − 1)t) — nearly constant boundaries.

The boundary b_k of look k solves P₀(|Z_k| ≥ b_k, |Z_j| < b_j for j < k) = α(t_k) − α(t_{k−1})
for the canonical joint distribution of the Z-statistics (independent increments,
Corr(Z_j, Z_k) = √(t_j/t_k)). The probabilities come from the recursive numerical integration
of Armitage, McPherson & Rowe (1969): the sub-density of Z_k on the continuation region is
carried from look to look on a grid (composite Simpson rule; Jennison & Turnbull 2000,
ch. 19), and each b_k is found with Brent's method. Classical Pocock (constant c) and
O'Brien–Fleming (c·√(K/k)) designs are computed the same way (`classical_boundaries`).

The same recursion with a drift gives the power of a design, hence the sample-size inflation
over a fixed-sample test (`inflation`), which the planner applies.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

__all__ = [
    "GroupSequentialDesign",
    "LookResult",
    "Spending",
    "boundaries",
    "classical_boundaries",
    "crossing_probabilities",
    "current_look",
    "inflation",
    "inflation_of",
    "look_tests",
    "spent",
]

Array = npt.NDArray[np.float64]
_ROOT_2PI = math.sqrt(2 * math.pi)
_GRID = 301  # Simpson points per look (odd); boundaries agree with 1601 points to < 1e-6


class Spending(StrEnum):
    """Lan–DeMets spending function."""

    OBRIEN_FLEMING = "obrien_fleming"
    POCOCK = "pocock"


def spent(t: float, alpha: float, spending: Spending) -> float:
    """Return the two-sided α spent by information fraction ``t`` (0 < t ≤ 1)."""
    if t <= 0:
        return 0.0
    t = min(t, 1.0)
    if spending is Spending.OBRIEN_FLEMING:
        return float(4.0 - 4.0 * stats.norm.cdf(stats.norm.ppf(1 - alpha / 4) / math.sqrt(t)))
    return float(alpha * math.log(1.0 + (math.e - 1.0) * t))


def _simpson(lo: float, hi: float) -> tuple[Array, Array]:
    z = np.linspace(lo, hi, _GRID)
    w = np.ones(_GRID)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return z, w * (hi - lo) / (3 * (_GRID - 1))


class _Recursion:
    """The sub-density of Z_k on the continuation region, look after look."""

    def __init__(self, drift: float) -> None:
        self.drift = drift  # E[Z] at full information (t = 1)
        self.t = 0.0
        self.z: Array | None = None  # grid of the last look
        self.mass: Array | None = None  # density × Simpson weight on that grid

    def _conditional(self, t: float) -> tuple[Array, float]:
        if self.z is None:
            return np.array([self.drift * math.sqrt(t)]), 1.0
        dt = t - self.t
        mean = (self.z * math.sqrt(self.t) + self.drift * dt) / math.sqrt(t)
        return mean, math.sqrt(dt / t)

    def _weights(self) -> Array:
        return np.ones(1) if self.mass is None else self.mass

    def cross(self, t: float, b: float) -> float:
        """Return P(|Z_k| ≥ b at fraction t, no earlier crossing)."""
        mean, sd = self._conditional(t)
        tail = stats.norm.sf((b - mean) / sd) + stats.norm.cdf((-b - mean) / sd)
        return float(self._weights() @ tail)

    def advance(self, t: float, b: float) -> None:
        """Move to the look at fraction ``t`` with continuation region (−b, b)."""
        mean, sd = self._conditional(t)
        z, w = _simpson(-b, b)
        dens = np.exp(-0.5 * ((z[:, None] - mean[None, :]) / sd) ** 2) / (sd * _ROOT_2PI)
        self.mass = (dens @ self._weights()) * w
        self.z, self.t = z, t


def _fractions(fractions: Sequence[float]) -> list[float]:
    ts = [float(t) for t in fractions]
    if not ts or any(not 0 < t <= 1 for t in ts) or any(b <= a for a, b in itertools.pairwise(ts)):
        raise ValueError(f"information fractions must increase within (0, 1], got {ts}")
    return ts


def boundaries(fractions: Sequence[float], alpha: float, spending: Spending) -> tuple[float, ...]:
    """Return the two-sided Lan–DeMets boundaries |Z_k| ≥ b_k at these fractions."""
    ts = _fractions(fractions)
    rec, out, before = _Recursion(0.0), [], 0.0
    for t in ts:
        target = spent(t, alpha, spending) - before
        before += target
        if target <= 1e-15:  # nothing to spend: never reject here
            b = 40.0
        else:
            b = optimize.brentq(
                lambda x, t=t, target=target: rec.cross(t, x) - target, 1e-6, 40.0, xtol=1e-12
            )
        out.append(float(b))
        rec.advance(t, b)
    return tuple(out)


def crossing_probabilities(
    fractions: Sequence[float], bounds: Sequence[float], drift: float = 0.0
) -> tuple[float, ...]:
    """Return P(first crossing at look k) for each look, with E[Z(t=1)] = ``drift``."""
    rec, out = _Recursion(drift), []
    for t, b in zip(_fractions(fractions), bounds, strict=True):
        out.append(rec.cross(t, b))
        rec.advance(t, b)
    return tuple(out)


def classical_boundaries(looks: int, alpha: float, kind: Spending) -> tuple[float, ...]:
    """Pocock's constant or O'Brien–Fleming's c·√(K/k) boundaries at equally spaced looks."""
    ts = [k / looks for k in range(1, looks + 1)]
    shape = [1.0 if kind is Spending.POCOCK else math.sqrt(looks / k) for k in range(1, looks + 1)]
    c = optimize.brentq(
        lambda x: sum(crossing_probabilities(ts, [x * s for s in shape])) - alpha,
        0.5,
        10.0,
        xtol=1e-12,
    )
    return tuple(c * s for s in shape)


def inflation(fractions: Sequence[float], alpha: float, power: float, spending: Spending) -> float:
    """Return the maximum sample size over a fixed-sample design's for the same power.

    The drift η (E[Z] at full information) giving probability ``power`` of crossing some
    boundary, squared over the fixed-sample one (z_{1−α/2} + z_{power})²: sample size scales
    with the square of the drift.
    """
    ts = _fractions(fractions)
    return inflation_of(ts, boundaries(ts, alpha, spending), alpha, power)


def inflation_of(
    fractions: Sequence[float], bounds: Sequence[float], alpha: float, power: float
) -> float:
    """Return `inflation` for given boundaries (e.g. a classical design's)."""
    ts = _fractions(fractions)
    fixed = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    eta = optimize.brentq(
        lambda d: sum(crossing_probabilities(ts, bounds, d)) - power, 0.0, 3 * fixed + 5, xtol=1e-10
    )
    return float((eta / fixed) ** 2)


@dataclass(frozen=True, slots=True)
class LookResult:
    """One look's test: the boundary, the nominal two-sided level it amounts to."""

    look: int
    fraction: float
    boundary: float
    nominal_alpha: float
    final: bool

    def summary(self, design: str) -> dict[str, object]:
        """Return the look for the analysis' settings record."""
        return {
            "design": design,
            "look": self.look,
            "fraction": self.fraction,
            "boundary": self.boundary,
            "nominal_alpha": self.nominal_alpha,
            "final": self.final,
        }


@dataclass(frozen=True, slots=True)
class GroupSequentialDesign:
    """K planned looks, equally spaced unless ``fractions`` are given, with a spending function.

    Attributes:
        looks: Number of analyses, the last one at the planned total sample size.
        spending: O'Brien–Fleming-type or Pocock-type Lan–DeMets spending.
        fractions: Planned information fractions (increasing, the last 1); default k/K.
    """

    looks: int
    spending: Spending = Spending.OBRIEN_FLEMING
    fractions: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "spending", Spending(self.spending))
        if not 1 <= self.looks <= 20:
            raise ValueError(f"a group-sequential design has 1 to 20 looks, got {self.looks}")
        ts = self.planned
        _fractions(ts)
        if len(ts) != self.looks or not math.isclose(ts[-1], 1.0):
            raise ValueError("give one information fraction per look, the last one 1")

    @property
    def planned(self) -> tuple[float, ...]:
        """Return the planned information fractions."""
        if self.fractions is not None:
            return tuple(self.fractions)
        return tuple(k / self.looks for k in range(1, self.looks + 1))

    def bounds(self, alpha: float) -> tuple[float, ...]:
        """Return the planned boundaries."""
        return boundaries(self.planned, alpha, self.spending)

    def at_look(self, look: int, alpha: float, fraction: float | None = None) -> LookResult:
        """Return the test of look ``look`` (1-based), at its observed fraction if given.

        The earlier looks keep their planned fractions; the current one may use the observed
        fraction (Lan–DeMets: the boundary follows the information actually reached).
        """
        if not 1 <= look <= self.looks:
            raise ValueError(f"look {look} is not among the {self.looks} planned looks")
        ts = list(self.planned[:look])
        if fraction is not None and look < self.looks:
            lower = ts[-2] if look > 1 else 0.0
            ts[-1] = min(max(fraction, lower + 1e-6), 1.0)
        b = boundaries(ts, alpha, self.spending)[-1]
        nominal = float(2 * stats.norm.sf(b))
        return LookResult(look, ts[-1], b, nominal, look == self.looks)

    def look_for(self, fraction: float) -> int:
        """Return the planned look an observed information fraction belongs to."""
        for k, t in enumerate(self.planned, start=1):
            if fraction <= t + 1e-9:
                return k
        return self.looks

    def describe(self) -> str:
        """Return the design as a reader writes it."""
        name = "O'Brien–Fleming" if self.spending is Spending.OBRIEN_FLEMING else "Pocock"
        return f"group-sequential, {self.looks} looks, Lan–DeMets {name}-type alpha spending"


def current_look(
    design: GroupSequentialDesign,
    alpha: float,
    look: int | None,
    planned_units: float | None,
    units: float | None,
) -> LookResult:
    """Return the test of the look being analysed.

    The look is ``look`` when given, else the planned look the observed information
    fraction (``units / planned_units``) has reached; the current boundary uses the observed
    fraction when the planned total is known.
    """
    frac = units / planned_units if planned_units and units else None
    if look is None:
        look = design.look_for(frac) if frac is not None else design.looks
    return design.at_look(look, alpha, frac)


def _look_adjusted(p: Array, alpha: float, nominal: float) -> Array:
    """p·α/α_k capped at 1; 1 when the look spends no α (nothing can be rejected there)."""
    if nominal <= 0:
        return np.ones_like(p)
    return np.minimum(1.0, p * (alpha / nominal))


def look_tests(
    diff: Array, se: Array, lift: Array, lift_se: Array, look: LookResult, alpha: float
) -> dict[str, Array]:
    """Return p-values, look-adjusted p-values and repeated confidence intervals.

    The p-value is the nominal two-sided z p-value; the adjusted one is p·α/α_k with α_k the
    nominal level of the look's boundary, so "adjusted p < α" ⇔ |z| ≥ b_k (reject; else
    continue). Intervals are estimate ± b_k·SE: repeated confidence intervals (Jennison &
    Turnbull 1989), simultaneous over the looks at level 1 − α.
    """
    p = 2 * stats.norm.sf(np.abs(diff / se))
    p_rel = 2 * stats.norm.sf(np.abs(lift / lift_se))
    b = look.boundary
    return {
        "p": p,
        "p_rel": p_rel,
        "adj": _look_adjusted(p, alpha, look.nominal_alpha),
        "ci_alpha": np.full(p.shape, look.nominal_alpha),
        "lo": diff - b * se,
        "hi": diff + b * se,
        "llo": lift - b * lift_se,
        "lhi": lift + b * lift_se,
    }
