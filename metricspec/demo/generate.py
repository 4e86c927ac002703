"""The entry point: generate the whole ``support`` warehouse at a scale and seed.

Scale → rows (measured, see ``docs/demo-data.md``): users are ``round(12,000 × scale)``;
conversations, messages, feedback and assignments of the ordinary period grow linearly with the
scale (about 0.48 M messages per unit of scale), and the monitoring day adds a fixed ~0.4 M
messages and ~87 k feedback rows at every scale up to about 100 (beyond it natural traffic
covers the day). Users are processed in chunks of :data:`CHUNK_USERS`, so memory stays bounded
at any scale; every chunk draws from its own seeded streams, so the same ``(scale, seed)``
gives identical tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb
import numpy as np

from metricspec.demo import writer
from metricspec.demo.conversations import chat_probability, draw_conversations
from metricspec.demo.experiments import EXPERIMENTS, Exposures, expose
from metricspec.demo.feedback import draw_feedback
from metricspec.demo.messages import simulate
from metricspec.demo.monitoring import Incident, extra_chat_weights, thumbs_per_5_minutes
from metricspec.demo.population import Population, draw_population, n_users
from metricspec.demo.summary import DemoSummary, ExperimentTruth
from metricspec.demo.timeline import END_US, SeasonalClock, hourly_weights

CHUNK_USERS = 100_000
"""Users simulated together; bounds memory (about 4 M messages per chunk)."""
DEFAULT_SEED = 20261122

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Progress = Callable[[str, float], None]
T = TypeVar("T", bound="DataclassInstance")

# Stream numbers: each (seed, chunk, stream) triple seeds an independent generator.
_POPULATION, _ARRIVALS, _MESSAGES, _FEEDBACK, _EXPERIMENTS = 0, 1, 2, 3, 10


def _take(obj: T, index: Any) -> T:
    """Return a dataclass of parallel arrays restricted to ``index``."""
    return replace(obj, **{f.name: getattr(obj, f.name)[index] for f in fields(obj)})


class _Run:
    """State shared by the chunks of one generation run."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, seed: int, scale: float, population: Population
    ) -> None:
        self.con = con
        self.seed = seed
        weights = hourly_weights()
        self.natural = SeasonalClock(weights)
        extra = extra_chat_weights(population, weights, chat_probability(population), scale)
        self.extra = SeasonalClock(extra)
        self.n_conversations = 0
        self.n_messages = 0
        self.n_feedback = 0
        self.n_assignments = 0
        self.counts = np.zeros((len(EXPERIMENTS), 6), dtype=np.int64)

    def rng(self, chunk: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, chunk, stream])

    def chunk(self, index: int, users: Population) -> None:
        """Simulate and write the activity of one chunk of users."""
        convs = draw_conversations(users, self.natural, self.extra, self.rng(index, _ARRIVALS))
        n = len(convs)
        hallucination, latency, tokens = np.ones(n), np.ones(n), np.ones(n)
        thumbs_down, csat_shift = np.ones(n), np.zeros(n)
        for k, experiment in enumerate(EXPERIMENTS):
            exposures = expose(
                experiment, convs.user, convs.start_us, users.platform,
                self.rng(index, _EXPERIMENTS + k),
            )  # fmt: skip
            treated, mechanism = exposures.treated, experiment.mechanism
            hallucination[treated] *= mechanism.hallucination_factor
            latency[treated] *= mechanism.latency_factor
            tokens[treated] *= mechanism.token_factor
            thumbs_down[treated] *= mechanism.thumbs_down_factor
            csat_shift[treated] += mechanism.csat_latent_shift
            self._count(k, exposures)
            writer.append(self.con, "assignments", {
                "experiment": np.full(len(exposures.user), k, dtype=np.uint8),
                "user_no": users.number[exposures.user],
                "variant": exposures.variant,
                "assigned_ts": writer.as_timestamps(exposures.ts_us),
                "platform": exposures.platform,
            })  # fmt: skip
            self.n_assignments += len(exposures.user)

        outcomes, messages = simulate(
            convs, users, hallucination, latency, tokens, self.rng(index, _MESSAGES)
        )
        # Conversations still running at the end of the data are not recorded.
        kept = outcomes.ended_us < END_US
        renumber = np.cumsum(kept) - 1
        convs, outcomes = _take(convs, kept), _take(outcomes, kept)
        messages = _take(messages, kept[messages.conv])
        messages = replace(messages, conv=renumber[messages.conv])
        feedback = draw_feedback(
            convs, outcomes, users, thumbs_down[kept], csat_shift[kept],
            self.rng(index, _FEEDBACK),
        )  # fmt: skip
        self._write(users, convs, outcomes, messages, feedback)

    def _count(self, k: int, exposures: Exposures) -> None:
        arm, exposed = exposures.arm, exposures.exposed
        logged = [np.unique(exposures.user[exposures.variant == v]) for v in (0, 1)]
        self.counts[k] += [
            int((exposed & (arm == 0)).sum()),
            int((exposed & (arm == 1)).sum()),
            len(logged[0]),
            len(logged[1]),
            len(np.intersect1d(logged[0], logged[1])),
            int(exposures.lost.sum()),
        ]

    def _write(self, users: Population, convs: Any, outcomes: Any, messages: Any, fb: Any) -> None:
        con, ts = self.con, writer.as_timestamps
        conv_no = self.n_conversations + 1 + np.arange(len(convs), dtype=np.int64)
        user_no = users.number[convs.user]
        writer.append(con, "conversations", {
            "conv_no": conv_no,
            "user_no": user_no,
            "started_ts": ts(convs.start_us),
            "ended_ts": ts(outcomes.ended_us),
            "channel": convs.channel,
            "model": convs.model,
            "locale": users.locale[convs.user],
            "turns": outcomes.turns.astype(np.int32),
            "escalated": outcomes.escalated,
            "escalation_turn": outcomes.escalation_turn.astype(np.int32),
            "resolved": outcomes.resolved,
        })  # fmt: skip
        m = messages.conv
        writer.append(con, "messages", {
            "message_id": self.n_messages + 1 + np.arange(len(m), dtype=np.int64),
            "conv_no": conv_no[m],
            "user_no": user_no[m],
            "ts": ts(messages.ts_us),
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
        writer.append(con, "feedback", {
            "feedback_id": self.n_feedback + 1 + np.arange(len(fb.conv), dtype=np.int64),
            "conv_no": conv_no[fb.conv],
            "user_no": user_no[fb.conv],
            "ts": ts(fb.ts_us),
            "channel": convs.channel[fb.conv],
            "thumbs": fb.thumbs,
            "csat_score": fb.csat.astype(np.int32),
            "effort_score": fb.effort.astype(np.int32),
        })  # fmt: skip
        self.n_conversations += len(convs)
        self.n_messages += len(m)
        self.n_feedback += len(fb.conv)


def _connect(
    target: str | Path | duckdb.DuckDBPyConnection,
) -> tuple[duckdb.DuckDBPyConnection, bool]:
    if isinstance(target, duckdb.DuckDBPyConnection):
        return target, False
    return duckdb.connect(str(target)), True


def generate(
    target: str | Path | duckdb.DuckDBPyConnection,
    *,
    scale: float = 1.0,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
) -> DemoSummary:
    """Generate the demo warehouse into schema ``support`` of a DuckDB database.

    Existing tables of schema ``support`` with the demo's names are replaced; nothing else in
    the database is touched.

    Args:
        target: A DuckDB database path (created if missing; ``":memory:"`` works but is gone
            when the call returns) or an open connection, which is left open.
        scale: Size multiplier; ``1.0`` gives 12,000 users and about 0.9 M messages. Must be
            positive.
        seed: Random seed; the same ``(scale, seed)`` gives identical tables.
        progress: Called as ``progress(stage, fraction)`` with the overall fraction done in
            ``[0, 1]``, e.g. to draw a progress bar.

    Returns:
        Row counts, the generation time and the ground truth of the planted effects.

    Raises:
        ValueError: If ``scale`` is not positive.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    started = time.perf_counter()
    report = progress or (lambda stage, fraction: None)
    con, owned = _connect(target)
    progress_bar = con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
    con.execute("SET enable_progress_bar = false")
    try:
        report("users", 0.0)
        writer.prepare(con)
        population = draw_population(n_users(scale), np.random.default_rng([seed, _POPULATION]))
        writer.append(con, "users", {
            "user_no": population.number,
            "signup_ts": writer.as_timestamps(population.signup_us),
            "plan": population.plan,
            "region": population.region,
            "locale": population.locale,
        })  # fmt: skip
        run = _Run(con, seed, scale, population)
        n = len(population)
        bounds = list(range(0, n, CHUNK_USERS))
        for index, lo in enumerate(bounds):
            report("activity", 0.05 + 0.95 * index / len(bounds))
            run.chunk(index, population.take(slice(lo, min(lo + CHUNK_USERS, n))))
        report("done", 1.0)
    finally:
        if owned:
            con.close()
        elif progress_bar is not None:
            con.execute(f"SET enable_progress_bar = {bool(progress_bar[0])}")
    rows = {
        "users": n,
        "assignments": run.n_assignments,
        "conversations": run.n_conversations,
        "messages": run.n_messages,
        "feedback": run.n_feedback,
    }
    truths = tuple(
        ExperimentTruth.of(e, tuple(int(c) for c in run.counts[k]))
        for k, e in enumerate(EXPERIMENTS)
    )
    return DemoSummary(
        scale=scale,
        seed=seed,
        rows=rows,
        seconds=time.perf_counter() - started,
        experiments=truths,
        incident=Incident(thumbs_per_5_minutes=thumbs_per_5_minutes(scale)),
    )
