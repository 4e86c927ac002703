"""When users talk to the assistant: conversation arrivals, channels, models and planned length.

Each user's conversations form a Poisson process with the user's rate times the seasonal
intensity of their region, from signup (or the period start) to the end of the data; on the
monitoring day extra chat conversations are added (see :mod:`metricspec.demo.monitoring`).
Conversations come back sorted by user, then start time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from metricspec.demo.monitoring import DENSE_START_US, INCIDENT_END_US, INCIDENT_START_US
from metricspec.demo.population import Population
from metricspec.demo.timeline import END_US, SeasonalClock, to_us

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

CHANNEL_MIX = (0.66, 0.22, 0.12)
"""Channel mix of conversations outside a user's usual channel (chat, email, voice)."""
CHANNEL_LOYALTY = 0.8
"""Probability that a conversation uses the user's usual channel."""
MEAN_PLANNED_TURNS = np.array([2.2, 1.6, 3.0])
"""Mean turns a conversation would last without escalation, by channel."""
MAX_TURNS = 40

UPGRADE_START_US = to_us("2026-11-03T00:00:00")
UPGRADE_END_US = to_us("2026-11-05T00:00:00")
"""The model upgrade ramps from 10% to 100% of new conversations between these instants."""


@dataclass(frozen=True)
class Conversations:
    """A chunk's conversations as parallel arrays (``user`` indexes the chunk's users)."""

    user: I64
    start_us: I64
    channel: U8
    model: U8
    dense: B
    planned_turns: I64

    def __len__(self) -> int:
        return len(self.user)


def chat_probability(population: Population) -> F64:
    """Return each user's probability that a natural conversation is a chat."""
    usual_chat = (population.channel == 0).astype(np.float64)
    probability: F64 = CHANNEL_LOYALTY * usual_chat + (1.0 - CHANNEL_LOYALTY) * CHANNEL_MIX[0]
    return probability


def model_versions(start_us: I64, rng: np.random.Generator) -> U8:
    """Return the model code serving conversations started at ``start_us``."""
    ramp = np.clip((start_us - UPGRADE_START_US) / (UPGRADE_END_US - UPGRADE_START_US), 0, 1)
    share_new = np.where(start_us < UPGRADE_START_US, 0.0, 0.1 + 0.9 * ramp)
    model = (rng.random(len(start_us)) < share_new).astype(np.uint8)
    model[(start_us >= INCIDENT_START_US) & (start_us < INCIDENT_END_US)] = 2
    return model


def _arrivals(
    users: Population, rate: F64, clock: SeasonalClock, rng: np.random.Generator
) -> tuple[I64, I64]:
    """Draw conversation owners and start times: ``rate`` per day times the clock's intensity."""
    region = users.region.astype(np.int64)
    hi = clock.cumulative[region, -1]
    expected = rate / 24.0 * (hi - clock.mass(region, users.active_from_us))
    counts = rng.poisson(expected)
    user = np.repeat(np.arange(len(users), dtype=np.int64), counts)
    start = clock.sample(region[user], users.active_from_us[user], rng)
    return user, start


def draw_conversations(
    users: Population,
    natural: SeasonalClock,
    extra: SeasonalClock,
    rng: np.random.Generator,
) -> Conversations:
    """Draw the conversations of a chunk of users.

    Args:
        users: The chunk's users.
        natural: The seasonal clock of ordinary traffic.
        extra: The clock of the monitoring day's extra chat traffic.
        rng: The chunk's random stream for arrivals.
    """
    nat_user, nat_start = _arrivals(users, users.rate, natural, rng)
    ext_user, ext_start = _arrivals(users, np.ones(len(users)), extra, rng)
    cdf = np.cumsum(CHANNEL_MIX)
    other = np.searchsorted(cdf / cdf[-1], rng.random(len(nat_user)), side="right")
    loyal = rng.random(len(nat_user)) < CHANNEL_LOYALTY
    nat_channel = np.where(loyal, users.channel[nat_user], other).astype(np.uint8)

    user = np.concatenate([nat_user, ext_user])
    start = np.concatenate([nat_start, ext_start])
    channel = np.concatenate([nat_channel, np.zeros(len(ext_user), dtype=np.uint8)])
    order = np.lexsort((start, user))
    user, start, channel = user[order], start[order], channel[order]

    spread = rng.gamma(2.0, 0.5, len(user)) * np.sqrt(users.verbosity[user])
    extra_turns = rng.poisson((MEAN_PLANNED_TURNS[channel] - 1.0) * spread)
    planned = np.minimum(1 + extra_turns, MAX_TURNS).astype(np.int64)
    assert start.size == 0 or int(start.max()) < END_US
    return Conversations(
        user=user,
        start_us=start,
        channel=channel,
        model=model_versions(start, rng),
        dense=start >= DENSE_START_US,
        planned_turns=planned,
    )
