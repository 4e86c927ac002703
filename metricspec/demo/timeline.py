"""The demo's calendar: the data period, time units and seasonal activity.

All timestamps inside the generator are ``int64`` microseconds since the Unix epoch (naive UTC),
which DuckDB reads as ``TIMESTAMP`` once viewed as ``datetime64[us]``. Activity follows a
piecewise-constant hourly intensity per region: a daily profile in local time, a weekly profile
(weekends quieter) and a gentle growth trend over the period.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR


def to_us(iso: str) -> int:
    """Return an ISO-8601 naive UTC timestamp as microseconds since the epoch.

    >>> to_us("1970-01-01T00:00:01")
    1000000
    """
    return int(np.datetime64(iso, "us").astype(np.int64))


def from_us(us: int) -> str:
    """Return microseconds since the epoch as an ISO-8601 string (seconds precision).

    >>> from_us(86_400_000_000)
    '1970-01-02T00:00:00'
    """
    return str(np.datetime64(us, "us").astype("datetime64[s]"))


START_US = to_us("2026-09-01T00:00:00")
"""First instant of generated activity."""
END_US = to_us("2026-11-17T00:00:00")
"""End of the data (exclusive): nothing is timestamped at or after it."""
N_HOURS = (END_US - START_US) // US_PER_HOUR

REGION_UTC_OFFSET_HOURS = (-6, 1, 8, -4)
"""Local-time offsets of the regions ``na``, ``eu``, ``apac``, ``latam`` (no daylight saving)."""

_DAILY_PROFILE = np.array(
    [0.25, 0.15, 0.10, 0.10, 0.12, 0.20, 0.45, 0.80, 1.20, 1.50, 1.60, 1.60,
     1.50, 1.55, 1.60, 1.55, 1.45, 1.30, 1.20, 1.15, 1.10, 0.95, 0.70, 0.45]
)  # fmt: skip
"""Relative activity by local hour of day."""
_WEEKLY_PROFILE = np.array([1.08, 1.10, 1.10, 1.08, 1.02, 0.78, 0.72])
"""Relative activity by local day of week, Monday first."""
_GROWTH_OVER_PERIOD = 0.15


def hourly_weights() -> F64:
    """Return the seasonal intensity per region and hour of the period.

    Returns:
        An array of shape ``(4, N_HOURS)``; each row has mean 1, so a user with a rate of
        ``r`` conversations per day has ``r / 24 * w[region, h]`` expected conversations in
        hour ``h``.
    """
    hours = np.arange(N_HOURS, dtype=np.int64)
    # 2026-09-01 is a Tuesday: epoch day 0 (1970-01-01) was a Thursday, so Monday = 0 below.
    start_weekday = (START_US // US_PER_DAY + 3) % 7
    trend = 1.0 + _GROWTH_OVER_PERIOD * hours / N_HOURS
    weights = np.empty((len(REGION_UTC_OFFSET_HOURS), N_HOURS))
    for region, offset in enumerate(REGION_UTC_OFFSET_HOURS):
        local = hours + offset
        weekday = (start_weekday + local // 24) % 7
        row = _DAILY_PROFILE[local % 24] * _WEEKLY_PROFILE[weekday] * trend
        weights[region] = row / row.mean()
    return weights


class SeasonalClock:
    """Draw event times from the per-region seasonal intensity.

    Args:
        weights: The ``(regions, hours)`` intensity from :func:`hourly_weights`.
    """

    def __init__(self, weights: F64) -> None:
        self.weights = weights
        self.cumulative = np.concatenate(
            [np.zeros((weights.shape[0], 1)), np.cumsum(weights, axis=1)], axis=1
        )

    def mass(self, region: npt.NDArray[np.integer], t_us: I64) -> F64:
        """Return the integrated intensity (in weighted hours) from the start to ``t_us``."""
        h = np.clip((t_us - START_US) / US_PER_HOUR, 0.0, float(N_HOURS))
        k = np.minimum(h.astype(np.int64), N_HOURS - 1)
        mass: F64 = self.cumulative[region, k] + (h - k) * self.weights[region, k]
        return mass

    def sample(
        self,
        region: npt.NDArray[np.integer],
        lo_us: I64,
        rng: np.random.Generator,
    ) -> I64:
        """Draw one time per row from the intensity of ``region`` restricted to ``[lo, END)``."""
        lo = self.mass(region, lo_us)
        hi = self.cumulative[region, N_HOURS]
        target = lo + rng.random(len(lo)) * (hi - lo)
        out = np.empty(len(target), dtype=np.int64)
        for r in range(self.weights.shape[0]):
            rows = np.flatnonzero(region == r)
            cum = self.cumulative[r]
            k = np.clip(np.searchsorted(cum, target[rows], side="right") - 1, 0, N_HOURS - 1)
            frac = (target[rows] - cum[k]) / self.weights[r, k]
            out[rows] = START_US + ((k + frac) * US_PER_HOUR).astype(np.int64)
        return np.clip(out, lo_us, END_US - 1)
