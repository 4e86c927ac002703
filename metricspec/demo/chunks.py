"""Simulate the activity of one chunk of users and hand its rows to a sink, table by table.

Users are independent given the shared calendar, so the population is cut into chunks that are
simulated one after the other; ids continue across chunks, and every chunk draws from its own
seeded random streams, so results do not depend on what else runs.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from metricspec.demo.conversations import Conversations, chat_probability, draw_conversations
from metricspec.demo.experiments import EXPERIMENTS, Exposures, expose
from metricspec.demo.feedback import Feedback, draw_feedback
from metricspec.demo.messages import Messages, Outcomes, simulate
from metricspec.demo.monitoring import extra_chat_weights
from metricspec.demo.population import Population
from metricspec.demo.timeline import END_US, SeasonalClock, hourly_weights

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")
Sink = Callable[[str, Mapping[str, npt.NDArray[Any]]], None]
"""Receives ``(table, columns)`` batches in the order they must be written."""
Report = Callable[[str, float], None]
"""Receives ``(stage, fraction of the chunk done)``."""

# Stream numbers: each (seed, chunk, stream...) key seeds an independent generator.
POPULATION_STREAM = 0
_ARRIVALS, _MESSAGES, _FEEDBACK, _EXPERIMENTS = 1, 2, 3, 10
TIME_ORDER = {"assignments": "assigned_ts", "conversations": "started_ts", "messages": "ts",
              "feedback": "ts"}
"""Each event table's time column: a chunk's rows are written in its order, as logged."""


def _salt(experiment_id: str) -> int:
    """Return an experiment's randomisation salt, like hash-based assignment salted by its id.

    >>> _salt("greeting_aa") == _salt("greeting_aa") != _salt("tone_tuning")
    True
    """
    return zlib.crc32(experiment_id.encode())


def _take(obj: T, index: Any) -> T:
    """Return a dataclass of parallel arrays restricted to ``index``."""
    return replace(obj, **{f.name: getattr(obj, f.name)[index] for f in fields(obj)})


def _ts(us: npt.NDArray[np.int64]) -> npt.NDArray[np.datetime64]:
    """View microseconds since the epoch as ``datetime64[us]`` (DuckDB reads TIMESTAMP)."""
    return us.view("datetime64[us]")


def users_batch(population: Population) -> dict[str, npt.NDArray[Any]]:
    """Return the columns of ``support.users`` for ``population``."""
    return {
        "user_no": population.number,
        "signup_ts": _ts(population.signup_us),
        "plan": population.plan,
        "region": population.region,
        "locale": population.locale,
    }


class ChunkSimulator:
    """Simulate chunks of one population in order, numbering rows across chunks.

    Args:
        population: All users (the monitoring day's extra traffic is allocated over all).
        seed: The run's seed.
        scale: The run's scale.
        sink: Where finished batches of rows go.
    """

    def __init__(self, population: Population, seed: int, scale: float, sink: Sink) -> None:
        self.seed = seed
        self.sink = sink
        weights = hourly_weights()
        self.natural = SeasonalClock(weights)
        extra = extra_chat_weights(population, weights, chat_probability(population), scale)
        self.extra = SeasonalClock(extra)
        self.rows = dict.fromkeys(("assignments", "conversations", "messages", "feedback"), 0)
        self.exposure_counts = np.zeros((len(EXPERIMENTS), 6), dtype=np.int64)
        """Per experiment: exposed users by true arm (2), logged users by variant (2), users
        logged in both variants, exposed users with no row logged."""

    def _rng(self, chunk: int, *stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, chunk, *stream])

    def run(self, index: int, users: Population, report: Report) -> None:
        """Simulate chunk ``index`` (its ``users``) and send its rows to the sink."""
        report("conversations", 0.0)
        convs = draw_conversations(users, self.natural, self.extra, self._rng(index, _ARRIVALS))
        n = len(convs)
        hallucination, latency, tokens = np.ones(n), np.ones(n), np.ones(n)
        thumbs_down, csat_shift = np.ones(n), np.zeros(n)
        report("experiments", 0.15)
        logged: list[dict[str, npt.NDArray[Any]]] = []
        for k, experiment in enumerate(EXPERIMENTS):
            rng = self._rng(index, _EXPERIMENTS, _salt(experiment.experiment_id))
            exposures = expose(experiment, convs.user, convs.start_us, users.platform, rng)
            treated, mechanism = exposures.treated, experiment.mechanism
            hallucination[treated] *= mechanism.hallucination_factor
            latency[treated] *= mechanism.latency_factor
            tokens[treated] *= mechanism.token_factor
            thumbs_down[treated] *= mechanism.thumbs_down_factor - (
                mechanism.novelty_thumbs_down
                * np.exp(-exposures.days_since[treated] / mechanism.novelty_days))
            csat_shift[treated] += mechanism.csat_latent_shift
            self._count(k, exposures)
            logged.append({
                "experiment": np.full(len(exposures.user), k, dtype=np.uint8),
                "user_no": users.number[exposures.user],
                "variant": exposures.variant,
                "assigned_ts": _ts(exposures.ts_us),
                "platform": exposures.platform,
            })  # fmt: skip
        self._emit("assignments", {c: np.concatenate([b[c] for b in logged]) for c in logged[0]})

        report("messages", 0.25)
        rng = self._rng(index, _MESSAGES)
        outcomes, messages = simulate(convs, users, hallucination, latency, tokens, rng)
        # Conversations still running at the end of the data are not recorded.
        kept = outcomes.ended_us < END_US
        renumber = np.cumsum(kept) - 1
        convs, outcomes = _take(convs, kept), _take(outcomes, kept)
        messages = _take(messages, kept[messages.conv])
        messages = replace(messages, conv=renumber[messages.conv])
        report("feedback", 0.6)
        rng = self._rng(index, _FEEDBACK)
        feedback = draw_feedback(convs, outcomes, users, thumbs_down[kept], csat_shift[kept], rng)
        report("writing", 0.7)
        self._emit_activity(users, convs, outcomes, messages, feedback)

    def _emit(self, table: str, columns: dict[str, npt.NDArray[Any]]) -> None:
        time = TIME_ORDER.get(table)
        if time is not None:  # stored as logged: in time order, so zone maps skip by time
            order = np.argsort(columns[time], kind="stable")
            columns = {name: values[order] for name, values in columns.items()}
        self.sink(table, columns)
        self.rows[table] += len(next(iter(columns.values())))

    def _count(self, k: int, exposures: Exposures) -> None:
        arm, exposed = exposures.arm, exposures.exposed
        logged = [np.unique(exposures.user[exposures.variant == v]) for v in (0, 1)]
        self.exposure_counts[k] += [
            int((exposed & (arm == 0)).sum()),
            int((exposed & (arm == 1)).sum()),
            len(logged[0]),
            len(logged[1]),
            len(np.intersect1d(logged[0], logged[1])),
            int(exposures.lost.sum()),
        ]

    def _emit_activity(
        self,
        users: Population,
        convs: Conversations,
        outcomes: Outcomes,
        messages: Messages,
        feedback: Feedback,
    ) -> None:
        conv_no = self.rows["conversations"] + 1 + np.arange(len(convs), dtype=np.int64)
        user_no = users.number[convs.user]
        self._emit("conversations", {
            "conv_no": conv_no,
            "user_no": user_no,
            "started_ts": _ts(convs.start_us),
            "ended_ts": _ts(outcomes.ended_us),
            "channel": convs.channel,
            "model": convs.model,
            "locale": users.locale[convs.user],
            "turns": outcomes.turns.astype(np.int32),
            "escalated": outcomes.escalated,
            "escalation_turn": outcomes.escalation_turn.astype(np.int32),
            "resolved": outcomes.resolved,
        })  # fmt: skip
        m = messages.conv
        self._emit("messages", {
            "message_id": self.rows["messages"] + 1 + np.arange(len(m), dtype=np.int64),
            "conv_no": conv_no[m],
            "user_no": user_no[m],
            "ts": _ts(messages.ts_us),
            "turn": messages.turn.astype(np.int32),
            "role": messages.role,
            "channel": convs.channel[m],
            "model": convs.model[m],
            "latency_ms": messages.latency_ms,
            "prompt_tokens": messages.prompt_tokens.astype(np.int32),
            "completion_tokens": messages.completion_tokens.astype(np.int32),
            "prompt_cost_usd": messages.prompt_cost,
            "completion_cost_usd": messages.completion_cost,
            "hallucinated": messages.hallucinated,
            "is_retry": messages.is_retry,
            "is_correction": messages.is_correction,
        })  # fmt: skip
        f = feedback.conv
        self._emit("feedback", {
            "feedback_id": self.rows["feedback"] + 1 + np.arange(len(f), dtype=np.int64),
            "conv_no": conv_no[f],
            "user_no": user_no[f],
            "ts": _ts(feedback.ts_us),
            "channel": convs.channel[f],
            "thumbs": feedback.thumbs,
            "csat_score": feedback.csat.astype(np.int32),
            "effort_score": feedback.effort.astype(np.int32),
        })  # fmt: skip
