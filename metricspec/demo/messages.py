"""What happens inside a conversation: turns, answers, hallucinations, retries and escalation.

Each turn is a user message followed by the assistant's answer. An answer hallucinates with a
probability set by the channel, locale, model, the user's question complexity and the turn;
after a hallucinated answer the user is far more likely to retry or correct, and the
conversation far more likely to be escalated to a human, which ends it. Prompts grow with the
conversation's context; latency is lognormal around a per-token cost with a heavy tail of
stalls; cost follows tokens and the model's price. Treatments and the incident reach this module
only as per-conversation multipliers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from metricspec.demo.conversations import Conversations
from metricspec.demo.monitoring import INCIDENT_HALLUCINATION_FACTOR, INCIDENT_LATENCY_FACTOR
from metricspec.demo.population import Population
from metricspec.demo.timeline import US_PER_SECOND

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
G = TypeVar("G", bound=np.generic)

# Indexed by channel (chat, email, voice), locale (schema order) or model code.
_HALLUCINATION_BASE = 0.09
_HALLUCINATION_CHANNEL = np.array([1.0, 0.85, 1.3])
_HALLUCINATION_LOCALE = np.array([1.0, 1.12, 1.10, 1.06, 1.35])
_HALLUCINATION_MODEL = np.array([1.0, 0.88, 0.88 * INCIDENT_HALLUCINATION_FACTOR])
_ESCALATION_CHANNEL = np.array([0.010, 0.018, 0.030])
_RESOLUTION_CHANNEL = np.array([0.90, 0.86, 0.82])
_USER_TOKENS = np.array([38.0, 120.0, 30.0])
_COMPLETION_TOKENS = np.array([170.0, 320.0, 90.0])
_SYSTEM_TOKENS = 850
_RETRIEVAL_TOKENS = 420.0
_PROMPT_USD_PER_TOKEN = np.array([3.0, 2.5, 2.5]) / 1e6
_COMPLETION_USD_PER_TOKEN = np.array([12.0, 10.0, 10.0]) / 1e6
_LATENCY_BASE_MS = np.array([500.0, 600.0, 300.0])
_LATENCY_MS_PER_TOKEN = 6.0
_LATENCY_MODEL = np.array([1.0, 0.92, 0.92 * INCIDENT_LATENCY_FACTOR])
_STALL_PROBABILITY = 0.02
_STALL_MEDIAN_MS = 2500.0
_THINK_MEDIAN_S = np.array([25.0, 3.0 * 3600.0, 5.0])
_THINK_SIGMA = np.array([0.9, 1.0, 0.5])


@dataclass(frozen=True)
class Outcomes:
    """Per-conversation results of the simulation."""

    turns: I64
    escalated: B
    escalation_turn: I64
    resolved: B
    ended_us: I64
    hallucinations: I64


@dataclass(frozen=True)
class Messages:
    """Messages as parallel arrays, two per turn (user, then assistant), in conversation order.

    User rows carry NaN latency, zero completion and cost, and ``hallucinated`` False;
    assistant rows carry ``is_retry``/``is_correction`` False. The writer turns these into NULLs.
    """

    conv: I64
    ts_us: I64
    turn: I64
    role: U8
    latency_ms: F64
    prompt_tokens: I64
    completion_tokens: I64
    prompt_cost: F64
    completion_cost: F64
    hallucinated: B
    is_retry: B
    is_correction: B


def _starts(counts: I64) -> I64:
    return np.cumsum(counts) - counts


def _cumsum_before(values: I64, counts: I64) -> I64:
    """Return, per row, the sum of the earlier rows of its group (groups are runs of counts)."""
    total = np.cumsum(values)
    first = _starts(counts)
    return total - values - np.repeat(total[first] - values[first], counts)


def _interleave(user: npt.NDArray[G], assistant: npt.NDArray[G]) -> npt.NDArray[G]:
    out = np.empty(2 * len(user), dtype=user.dtype)
    out[0::2] = user
    out[1::2] = assistant
    return out


def _noise(rng: np.random.Generator, sigma: float | F64, n: int) -> F64:
    """Return lognormal noise with mean 1."""
    noise: F64 = rng.lognormal(-0.5 * np.square(sigma), sigma, n)
    return noise


def simulate(
    convs: Conversations,
    users: Population,
    hallucination_factor: F64,
    latency_factor: F64,
    token_factor: F64,
    rng: np.random.Generator,
) -> tuple[Outcomes, Messages]:
    """Simulate every turn of ``convs``; the factors are per-conversation treatment multipliers."""
    planned = convs.planned_turns
    conv = np.repeat(np.arange(len(convs), dtype=np.int64), planned)
    turn = np.arange(len(conv), dtype=np.int64) - np.repeat(_starts(planned), planned) + 1
    user, channel, model = convs.user[conv], convs.channel[conv], convs.model[conv]

    p_hallucinate = (
        _HALLUCINATION_BASE
        * _HALLUCINATION_CHANNEL[channel]
        * _HALLUCINATION_LOCALE[users.locale[user]]
        * _HALLUCINATION_MODEL[model]
        * users.complexity[user]
        * (1.0 + 0.04 * (turn - 1))
        * hallucination_factor[conv]
    )
    hallucinated = rng.random(len(conv)) < np.minimum(p_hallucinate, 0.9)
    after_bad = np.r_[False, hallucinated[:-1]] & (turn > 1)
    u = rng.random(len(conv))
    p_retry = 0.035 + 0.30 * after_bad
    p_correct = 0.025 + 0.20 * after_bad
    is_retry = (turn > 1) & (u < p_retry)
    is_correction = (turn > 1) & (u >= p_retry) & (u < p_retry + p_correct)
    p_escalate = (
        _ESCALATION_CHANNEL[channel] + 0.10 * hallucinated + 0.03 * (is_retry | is_correction)
    )
    never = np.iinfo(np.int64).max
    marks = np.where(rng.random(len(conv)) < p_escalate, turn, never)
    escalation_turn = np.minimum.reduceat(marks, _starts(planned)) if len(marks) else marks
    escalated = escalation_turn != never
    turns = np.where(escalated, escalation_turn, planned)

    keep = turn <= turns[conv]
    conv, turn, user, channel, model = (
        conv[keep],
        turn[keep],
        user[keep],
        channel[keep],
        model[keep],
    )
    hallucinated, is_retry, is_correction = hallucinated[keep], is_retry[keep], is_correction[keep]
    n = len(conv)

    user_tokens = np.maximum(
        2, np.rint(_USER_TOKENS[channel] * users.verbosity[user] * _noise(rng, 0.6, n))
    ).astype(np.int64)
    completion_base = np.maximum(
        3, np.rint(_COMPLETION_TOKENS[channel] * users.verbosity[user] * _noise(rng, 0.5, n))
    )
    retrieval = np.rint(_RETRIEVAL_TOKENS * _noise(rng, 0.35, n))
    context = _cumsum_before(user_tokens + completion_base.astype(np.int64), turns)
    tf = token_factor[conv]
    prompt_tokens = np.rint((_SYSTEM_TOKENS + retrieval + context + user_tokens) * tf).astype(
        np.int64
    )
    completion_tokens = np.rint(completion_base * tf).astype(np.int64)
    prompt_cost = prompt_tokens * _PROMPT_USD_PER_TOKEN[model]
    completion_cost = completion_tokens * _COMPLETION_USD_PER_TOKEN[model]

    compute = (
        _LATENCY_BASE_MS[channel] + _LATENCY_MS_PER_TOKEN * completion_base
    ) * _LATENCY_MODEL[model]
    latency = compute * users.latency_factor[user] * _noise(rng, 0.45, n)
    stalled = rng.random(n) < _STALL_PROBABILITY
    latency += stalled * rng.lognormal(np.log(_STALL_MEDIAN_MS), 1.0, n)
    latency = np.round(latency * latency_factor[conv], 1)

    think_s = _THINK_MEDIAN_S[channel] * rng.lognormal(0.0, _THINK_SIGMA[channel], n)
    latency_us = (latency * 1000.0).astype(np.int64)
    step = latency_us + (think_s * US_PER_SECOND).astype(np.int64)
    user_ts = convs.start_us[conv] + _cumsum_before(step, turns)
    assistant_ts = user_ts + latency_us

    last = np.cumsum(turns) - 1
    n_bad = np.add.reduceat(hallucinated.astype(np.int64), _starts(turns)) if n else turns
    n_fix = np.add.reduceat(is_correction.astype(np.int64), _starts(turns)) if n else turns
    p_resolve = _RESOLUTION_CHANNEL[convs.channel] - 0.45 * n_bad / turns - 0.08 * (n_fix > 0)
    resolved = ~escalated & (rng.random(len(convs)) < np.clip(p_resolve, 0.05, 0.99))
    outcomes = Outcomes(
        turns=turns,
        escalated=escalated,
        escalation_turn=np.where(escalated, escalation_turn, 0),
        resolved=resolved,
        ended_us=assistant_ts[last],
        hallucinations=n_bad,
    )
    zeros = np.zeros(n)
    no = np.zeros(n, dtype=bool)
    messages = Messages(
        conv=np.repeat(conv, 2),
        ts_us=_interleave(user_ts, assistant_ts),
        turn=np.repeat(turn, 2),
        role=np.tile(np.array([0, 1], dtype=np.uint8), n),
        latency_ms=_interleave(np.full(n, np.nan), latency.astype(np.float64)),
        prompt_tokens=_interleave(user_tokens, prompt_tokens),
        completion_tokens=_interleave(np.zeros(n, dtype=np.int64), completion_tokens),
        prompt_cost=_interleave(zeros, prompt_cost),
        completion_cost=_interleave(zeros, completion_cost),
        hallucinated=_interleave(no, hallucinated),
        is_retry=_interleave(is_retry, no),
        is_correction=_interleave(is_correction, no),
    )
    return outcomes, messages
