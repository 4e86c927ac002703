"""Per-variant sufficient statistics: the only data the statistics engine ever sees.

A `Moments` holds, for one variant in one segment, the number of units ``n``, the sum of
each named unit-level component over units, and the sum of products of component pairs.
Component names follow ``"<metric>.<part>"`` with part ``x`` (numerator / unit value),
``y`` (denominator), ``c`` and ``d`` (pre-period covariates of ``x`` and ``y``).

`QuantileMoments` holds what a quantile metric needs (the gbstats
``QuantileClusteredStatistic`` inputs).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from metricspec.stats.validate import moments_problem

__all__ = ["Moments", "QuantileMoments", "pair"]


def pair(a: str, b: str) -> tuple[str, str]:
    """Return the canonical (sorted) key for the product of components ``a`` and ``b``.

    >>> pair("m.y", "m.x")
    ('m.x', 'm.y')
    """
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True, slots=True)
class Moments:
    """Sufficient statistics of one variant (and one segment).

    Attributes:
        n: Number of units.
        sums: Σ v_k over units, keyed by component name.
        products: Σ v_j·v_k over units, keyed by component pair (any order on input;
            stored sorted, see `pair`).
    """

    n: int
    sums: Mapping[str, float] = field(default_factory=dict)
    products: Mapping[tuple[str, str], float] = field(default_factory=dict)
    _cov: dict[tuple[str, str], float | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _problem: list[str | None] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "sums", dict(self.sums))
        object.__setattr__(
            self, "products", {pair(a, b): float(v) for (a, b), v in self.products.items()}
        )

    @classmethod
    def from_units(cls, columns: Mapping[str, Sequence[float] | npt.ArrayLike]) -> Moments:
        """Compute moments (all sums and all pairwise products) from unit-level columns.

        Meant for tests, simulations and small examples; production data arrives already
        aggregated (see `metricspec.stats.longformat`).

        >>> Moments.from_units({"m.x": [1.0, 2.0, 3.0]}).products[("m.x", "m.x")]
        14.0
        """
        names = sorted(columns)
        arrays = [np.asarray(columns[k], dtype=float) for k in names]
        n = int(arrays[0].size) if arrays else 0
        sums = {k: float(a.sum()) for k, a in zip(names, arrays, strict=True)}
        products = {
            (names[i], names[j]): float(np.dot(arrays[i], arrays[j]))
            for i in range(len(names))
            for j in range(i, len(names))
        }
        return cls(n=n, sums=sums, products=products)

    @staticmethod
    def merge(parts: Iterable[Moments]) -> Moments | str:
        """Union several moments of the same units; return a reason string if ``n`` differs."""
        parts = list(parts)
        if not parts:
            return "no moments to merge"
        n = parts[0].n
        sums: dict[str, float] = {}
        products: dict[tuple[str, str], float] = {}
        for p in parts:
            if p.n != n:
                return f"unit counts differ between merged statistics (n={n} vs n={p.n})"
            sums.update(p.sums)
            products.update(p.products)
        return Moments(n=n, sums=sums, products=products)

    def impossible(self) -> str | None:
        """Return why no real data could give these statistics, or None (see `validate`).

        >>> Moments(4, {"m.x": 4.0}, {("m.x", "m.x"): 1.0}).impossible() is not None
        True
        """
        if not self._problem:
            found = moments_problem(self.n, self.sums, self.products)
            self._problem.append(None if found is None else found[1])
        return self._problem[0]

    def has(self, component: str) -> bool:
        """Return whether the sum of ``component`` is present."""
        return component in self.sums

    def mean(self, component: str) -> float:
        """Return the mean of ``component`` over units (``n`` must be positive)."""
        return self.sums[component] / self.n

    def product(self, a: str, b: str) -> float | None:
        """Return Σ a·b over units, or None when that product was not supplied."""
        return self.products.get(pair(a, b))

    def covariance(self, a: str, b: str) -> float | None:
        """Return the sample covariance (n − 1 denominator) of two components, or None.

        Variances (``a == b``) are clamped at zero against rounding (`validate` refuses a
        negative variance beyond rounding).
        """
        key = (a, b)
        if key in self._cov:
            return self._cov[key]
        p = self.product(a, b)
        if p is None or self.n < 2 or a not in self.sums or b not in self.sums:
            cov = None
        else:
            cov = (p - self.sums[a] * self.sums[b] / self.n) / (self.n - 1)
            cov = max(cov, 0.0) if a == b else cov
        self._cov[key] = self._cov[(b, a)] = cov
        return cov


@dataclass(frozen=True, slots=True)
class QuantileMoments:
    """Inputs of an event-level quantile clustered by unit (gbstats convention).

    Attributes:
        n_units: Number of units (clusters).
        quantile: Sample quantile at level ``nu`` over all events.
        quantile_lower: Sample quantile at ``nu − z₀.₉₇₅·sqrt(nu(1−nu)/n_star)``.
        quantile_upper: Sample quantile at ``nu + z₀.₉₇₅·sqrt(nu(1−nu)/n_star)``.
        n_star: ``100·2^k``, the largest such value not above the number of events (k < 0,
            so a fraction, below 100 events).
        sum_events: Σ events_i over units (the number of events).
        sum_events2: Σ events_i² (None when unknown; one event per unit is then assumed).
        sum_below: Σ below_i, events at or below the quantile per unit.
        sum_below2: Σ below_i².
        sum_below_events: Σ below_i·events_i.
    """

    n_units: int
    quantile: float
    quantile_lower: float
    quantile_upper: float
    n_star: float
    sum_events: float
    sum_events2: float | None = None
    sum_below: float | None = None
    sum_below2: float | None = None
    sum_below_events: float | None = None

    @property
    def n_events(self) -> float:
        """Return the number of events (Σ events_i)."""
        return self.sum_events

    @property
    def one_event_per_unit(self) -> bool:
        """Return whether every unit contributed exactly one event (no clustering)."""
        if self.sum_events != self.n_units:
            return False
        return self.sum_events2 is None or self.sum_events2 == self.n_units

    def is_finite(self) -> bool:
        """Return whether every supplied number is finite."""
        values = (
            self.quantile,
            self.quantile_lower,
            self.quantile_upper,
            self.sum_events,
            self.sum_events2,
            self.sum_below,
            self.sum_below2,
            self.sum_below_events,
        )
        return all(v is None or math.isfinite(v) for v in values)
