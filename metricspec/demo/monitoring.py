"""The monitoring day: dense feedback on 2026-11-16 and one planted incident.

From 2026-11-15 23:00 (so that the first window of the 16th already has a full trailing hour)
every chat conversation ends with a thumbs prompt that 90% of users answer, and extra chat
traffic from existing users tops the natural traffic up so that about 300 thumbs arrive per
5 minutes at every scale from 0.25 up (below 0.25 the target shrinks with the scale; above
about 60 natural traffic alone exceeds it and nothing is added). The usual thumbs-up share is
about 0.78; from 14:00 to 15:00 a faulty model hotfix serves every new conversation and the
thumbs-up share of feedback given in that hour drops to 0.45.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from metricspec.demo.population import Population
from metricspec.demo.timeline import END_US, N_HOURS, START_US, US_PER_HOUR, to_us

F64 = npt.NDArray[np.float64]

DENSE_START_US = to_us("2026-11-15T23:00:00")
DAY_START_US = to_us("2026-11-16T00:00:00")
INCIDENT_START_US = to_us("2026-11-16T14:00:00")
INCIDENT_END_US = to_us("2026-11-16T15:00:00")
THUMBS_PER_5_MINUTES = 300.0
"""Target number of feedback rows with a thumbs value per 5-minute window."""
FULL_DENSITY_SCALE = 0.25
"""From this scale up the monitoring day has its full density; below, it shrinks linearly."""
THUMBS_DAILY_AMPLITUDE = 0.02
"""Relative day/night swing of the target (kept small so every window stays near 300)."""
DENSE_THUMBS_RESPONSE = 0.9
"""Probability that a chat conversation started in the dense period gets a thumbs rating."""
INCIDENT_UP_SHARE = 0.45
"""Thumbs-up share of feedback given during the incident hour."""
INCIDENT_HALLUCINATION_FACTOR = 2.5
INCIDENT_LATENCY_FACTOR = 1.3


@dataclass(frozen=True)
class Incident:
    """Ground truth of the planted monitoring incident (times in µs, end exclusive)."""

    start_us: int = INCIDENT_START_US
    end_us: int = INCIDENT_END_US
    metric: str = "thumbs_up_share"
    usual_share: float = 0.78
    incident_share: float = INCIDENT_UP_SHARE
    dense_start_us: int = DENSE_START_US
    dense_end_us: int = END_US
    thumbs_per_5_minutes: float = THUMBS_PER_5_MINUTES


def _dense_hours() -> npt.NDArray[np.int64]:
    first = (DENSE_START_US - START_US) // US_PER_HOUR
    return np.arange(first, N_HOURS, dtype=np.int64)


def thumbs_per_5_minutes(scale: float) -> float:
    """Return the mean target of thumbs per 5-minute window on the monitoring day at ``scale``.

    >>> thumbs_per_5_minutes(1.0), thumbs_per_5_minutes(0.25), thumbs_per_5_minutes(0.05)
    (300.0, 300.0, 60.0)
    """
    return THUMBS_PER_5_MINUTES * min(1.0, scale / FULL_DENSITY_SCALE)


def target_thumbs_per_hour(scale: float) -> F64:
    """Return the target thumbs count for each dense hour (mild seasonality peaking at 15:00)."""
    hours = _dense_hours()
    utc_hour = (hours + START_US // US_PER_HOUR) % 24
    wave = np.cos(2 * np.pi * (utc_hour + 0.5 - 15.0) / 24.0)
    target: F64 = 12 * thumbs_per_5_minutes(scale) * (1.0 + THUMBS_DAILY_AMPLITUDE * wave)
    return target


def extra_chat_weights(
    population: Population, weights: F64, chat_probability: F64, scale: float
) -> F64:
    """Return the extra-traffic intensity per region and hour that tops chat up to the target.

    Every active user gets ``extra[region, h] / 24`` extra chat conversations in hour ``h``,
    whatever their usual rate or region, so no single user dominates a 5-minute window and the
    mix of users (hence the usual thumbs-up share) stays the same all day.

    Args:
        population: All users (the extra is allocated over the whole population, not a chunk).
        weights: The natural seasonal intensity, ``(regions, hours)``.
        chat_probability: Each user's probability that a natural conversation is a chat.
        scale: The generation scale (sets the target, see :func:`thumbs_per_5_minutes`).
    """
    hours = _dense_hours()
    hour_start = START_US + hours * US_PER_HOUR
    extra = np.zeros_like(weights)
    n_regions = weights.shape[0]
    natural = np.zeros(len(hours))
    capacity = np.zeros(len(hours))
    for r in range(n_regions):
        in_region = population.region == r
        order = np.argsort(population.active_from_us[in_region], kind="stable")
        since = population.active_from_us[in_region][order]
        rate = population.rate[in_region][order]
        # Rates summed over the users already active at each hour's start.
        cum_chat = np.r_[0.0, np.cumsum(rate * chat_probability[in_region][order])]
        n_active = np.searchsorted(since, hour_start, side="right")
        natural += cum_chat[n_active] * weights[r, hours] / 24.0
        capacity += n_active / 24.0
    needed = np.maximum(0.0, target_thumbs_per_hour(scale) / DENSE_THUMBS_RESPONSE - natural)
    kappa = np.divide(needed, capacity, out=np.zeros_like(needed), where=capacity > 0)
    extra[:, hours] = kappa[None, :]
    return extra


def in_incident(ts_us: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Return whether each time falls in the incident hour."""
    return (ts_us >= INCIDENT_START_US) & (ts_us < INCIDENT_END_US)
