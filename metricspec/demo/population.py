"""Users and their latent traits.

Each user carries traits that persist over the whole period, so behaviour before an experiment
predicts behaviour during it (what CUPED exploits): an activity rate, a satisfaction propensity,
a feedback propensity, verbosity (tokens and turns), a latency factor (network, region) and a
question complexity that drives hallucinations. Categories are small integer codes into the
vocabularies of :mod:`metricspec.demo.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from metricspec.demo.timeline import END_US, START_US, US_PER_DAY, to_us

USERS_PER_SCALE = 12_000
"""Users at ``scale=1``; the user count is ``round(USERS_PER_SCALE * scale)``."""

MEAN_CONVERSATIONS_PER_DAY = 0.19
"""Mean of the per-user conversation rate before plan multipliers."""

_PLAN_MIX = (0.70, 0.24, 0.06)
_PLAN_ACTIVITY = np.array([0.85, 1.25, 1.8])
_REGION_MIX = (0.40, 0.30, 0.20, 0.10)
# P(locale | region), locales in schema order: en-US, de-DE, fr-FR, es-ES, ja-JP.
_LOCALE_GIVEN_REGION = np.array(
    [
        [0.88, 0.01, 0.02, 0.09, 0.00],
        [0.30, 0.34, 0.24, 0.12, 0.00],
        [0.40, 0.00, 0.00, 0.00, 0.60],
        [0.12, 0.00, 0.00, 0.88, 0.00],
    ]
)
_REGION_LATENCY = np.array([0.96, 1.0, 1.1, 1.06])
# P(primary channel | plan), channels chat, email, voice.
_CHANNEL_GIVEN_PLAN = np.array([[0.74, 0.18, 0.08], [0.66, 0.22, 0.12], [0.48, 0.34, 0.18]])
_PLATFORM_MIX = (0.55, 0.25, 0.20)
_EARLIEST_SIGNUP_US = to_us("2024-01-01T00:00:00")

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Population:
    """Users as parallel arrays, indexed by user number (``user_id`` is ``u`` + number)."""

    number: I64
    signup_us: I64
    active_from_us: I64
    plan: U8
    region: U8
    locale: U8
    platform: U8
    channel: U8
    rate: F64
    satisfaction: F64
    feedback_propensity: F64
    verbosity: F64
    latency_factor: F64
    complexity: F64

    def __len__(self) -> int:
        return len(self.number)

    def take(self, index: slice | I64) -> Population:
        """Return the users at ``index`` (a slice or an array of positions)."""
        return Population(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def n_users(scale: float) -> int:
    """Return the number of users generated at ``scale``.

    >>> n_users(1.0), n_users(0.25)
    (12000, 3000)
    """
    return max(1, round(USERS_PER_SCALE * scale))


def _categorical(rng: np.random.Generator, probs: npt.ArrayLike, n: int) -> U8:
    cdf = np.cumsum(np.asarray(probs, dtype=np.float64))
    return np.searchsorted(cdf / cdf[-1], rng.random(n), side="right").astype(np.uint8)


def _conditional(rng: np.random.Generator, table: F64, given: U8) -> U8:
    cdf = np.cumsum(table, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(len(given))
    codes: U8 = (u[:, None] >= cdf[given]).sum(axis=1).astype(np.uint8)
    return codes


def _lognormal_mean_one(rng: np.random.Generator, sigma: float, n: int) -> F64:
    return rng.lognormal(-0.5 * sigma * sigma, sigma, n)


def draw_population(n: int, rng: np.random.Generator) -> Population:
    """Draw ``n`` users with their categories, signup times and latent traits."""
    plan = _categorical(rng, _PLAN_MIX, n)
    region = _categorical(rng, _REGION_MIX, n)
    locale = _conditional(rng, _LOCALE_GIVEN_REGION, region)
    # Three quarters signed up before the period (recent signups more likely), the rest during.
    before = rng.random(n) < 0.75
    age_days = np.minimum(rng.exponential(220.0, n), (START_US - _EARLIEST_SIGNUP_US) / US_PER_DAY)
    during = rng.random(n) * (END_US - US_PER_DAY - START_US)
    signup = np.where(before, START_US - age_days * US_PER_DAY, START_US + during)
    signup_us = signup.astype(np.int64)
    rate = MEAN_CONVERSATIONS_PER_DAY * _lognormal_mean_one(rng, 1.0, n) * _PLAN_ACTIVITY[plan]
    return Population(
        number=np.arange(1, n + 1, dtype=np.int64),
        signup_us=signup_us,
        active_from_us=np.maximum(signup_us, START_US),
        plan=plan,
        region=region,
        locale=locale,
        platform=_categorical(rng, _PLATFORM_MIX, n),
        channel=_conditional(rng, _CHANNEL_GIVEN_PLAN, plan),
        rate=rate,
        satisfaction=rng.normal(0.0, 0.8, n),
        feedback_propensity=_lognormal_mean_one(rng, 0.6, n),
        verbosity=_lognormal_mean_one(rng, 0.35, n),
        latency_factor=_lognormal_mean_one(rng, 0.12, n) * _REGION_LATENCY[region],
        complexity=_lognormal_mean_one(rng, 0.35, n),
    )
