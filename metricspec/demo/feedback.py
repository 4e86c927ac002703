"""Post-conversation feedback: who answers, when, and what they say.

A minority of conversations gets feedback; the chance depends on the channel and on the user's
feedback propensity. Each feedback row may carry a thumbs rating, a 1-5 CSAT and a 1-7 effort
score (1 = very easy), depending on what the channel asks. All three read one latent
satisfaction: the user's propensity, locale and channel, and how the conversation went
(hallucinations, escalation, resolution, length). CSAT is drawn after the thumbs and leans on
them, so the two agree. Treatments and the incident enter as per-row adjustments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from metricspec.demo.conversations import Conversations
from metricspec.demo.messages import Outcomes
from metricspec.demo.monitoring import DENSE_THUMBS_RESPONSE, INCIDENT_UP_SHARE, in_incident
from metricspec.demo.population import Population
from metricspec.demo.timeline import END_US, US_PER_SECOND

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

# Indexed by channel: chat, email, voice.
_RESPONSE = np.array([0.40, 0.28, 0.22])
_ASK_THUMBS = np.array([0.95, 0.55, 0.0])
_ASK_CSAT = np.array([0.35, 0.75, 0.90])
_ASK_EFFORT = np.array([0.12, 0.35, 0.40])
_DELAY_MEDIAN_S = np.array([40.0, 3.0 * 3600.0, 90.0])
_DELAY_SIGMA = np.array([1.0, 1.0, 0.6])
_SATISFACTION_CHANNEL = np.array([0.15, 0.0, -0.25])
_SATISFACTION_LOCALE = np.array([0.0, -0.15, -0.05, 0.15, -0.35])
_THUMBS_INTERCEPT = 1.55
_CSAT_CUTS = np.array([-1.7, -0.9, 0.15, 1.25])
_EFFORT_CUTS = np.array([-1.0, -0.2, 0.5, 1.1, 1.7, 2.3])


@dataclass(frozen=True)
class Feedback:
    """Feedback rows in conversation order; 0 means "not asked" for thumbs, CSAT and effort.

    ``thumbs`` is 0 (none), 1 (up) or 2 (down).
    """

    conv: I64
    ts_us: I64
    thumbs: U8
    csat: U8
    effort: U8


def _sigmoid(x: F64) -> F64:
    return 1.0 / (1.0 + np.exp(-x))


def draw_feedback(
    convs: Conversations,
    outcomes: Outcomes,
    users: Population,
    thumbs_down_factor: F64,
    csat_shift: F64,
    rng: np.random.Generator,
) -> Feedback:
    """Draw the feedback given on ``convs``; the last two arrays are per-conversation effects."""
    channel = convs.channel
    user = convs.user
    prompted = convs.dense & (channel == 0)
    p_respond = np.minimum(_RESPONSE[channel] * users.feedback_propensity[user], 0.9)
    p_respond = np.where(prompted, DENSE_THUMBS_RESPONSE, p_respond)
    conv = np.flatnonzero(rng.random(len(convs)) < p_respond)
    channel, user, n = channel[conv], user[conv], len(conv)

    delay_s = _DELAY_MEDIAN_S[channel] * rng.lognormal(0.0, _DELAY_SIGMA[channel], n)
    ts = outcomes.ended_us[conv] + (delay_s * US_PER_SECOND).astype(np.int64) + 1
    ask_thumbs = prompted[conv] | (rng.random(n) < _ASK_THUMBS[channel])
    ask_csat = rng.random(n) < _ASK_CSAT[channel]
    ask_effort = rng.random(n) < _ASK_EFFORT[channel]
    ask_csat |= ~(ask_thumbs | ask_csat | ask_effort)

    turns = outcomes.turns[conv]
    latent = (
        users.satisfaction[user]
        + _SATISFACTION_LOCALE[users.locale[user]]
        + _SATISFACTION_CHANNEL[channel]
        - 1.2 * (outcomes.hallucinations[conv] > 0)
        - 1.0 * outcomes.escalated[conv]
        + 0.5 * outcomes.resolved[conv]
        - 0.06 * (turns - 1)
        + rng.normal(0.0, 1.0, n)
    )
    p_down = (1.0 - _sigmoid(_THUMBS_INTERCEPT + latent)) * thumbs_down_factor[conv]
    incident = in_incident(ts)
    p_up = 1.0 - p_down
    if incident.any():
        p_up[incident] *= INCIDENT_UP_SHARE / p_up[incident].mean()
    up = rng.random(n) < p_up
    thumbs = np.where(ask_thumbs, np.where(up, 1, 2), 0).astype(np.uint8)

    csat_latent = 0.8 * latent + 1.1 * up + csat_shift[conv] + rng.normal(0.0, 0.7, n)
    csat = 1 + (csat_latent[:, None] > _CSAT_CUTS[None, :]).sum(axis=1)
    effort_latent = -0.5 * latent + 0.15 * (turns - 1) + 1.2 * outcomes.escalated[conv]
    effort_latent += rng.normal(0.0, 0.9, n)
    effort = 1 + (effort_latent[:, None] > _EFFORT_CUTS[None, :]).sum(axis=1)

    keep = ts < END_US
    return Feedback(
        conv=conv[keep],
        ts_us=ts[keep],
        thumbs=thumbs[keep],
        csat=np.where(ask_csat, csat, 0).astype(np.uint8)[keep],
        effort=np.where(ask_effort, effort, 0).astype(np.uint8)[keep],
    )
