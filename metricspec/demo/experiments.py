"""The planted experiments: their definitions (the ground truth) and the exposure log.

A user enters an experiment at their first conversation inside its window; that conversation's
start is their first ``assigned_ts``, and every later conversation in the window logs another
exposure (a few are logged twice). Arms are drawn independently per experiment, so concurrent
experiments are orthogonal. Two assignment bugs are planted on purpose: about 0.5% of exposed
users also log an exposure in the other arm, and in ``tone_tuning`` the exposure rows of a share
of treatment users are lost (their conversations still happen), a sample-ratio mismatch.
Treatment effects apply to conversations of treatment users started inside the window, i.e. at
or after the first exposure and before the window ends. Two more things are planted for the
diagnostics: in ``summarizer_v2`` the thumbs-down reduction has a novelty part that fades with
days since the user's first exposure, and in ``prompt_template_v3`` a deploy on 2026-10-22
logs a few exposure rows with a variant value nobody declared (``treatment_hotfix``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from metricspec.demo.timeline import F64, US_PER_DAY, US_PER_MINUTE, US_PER_SECOND, to_us

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
B = npt.NDArray[np.bool_]

MULTI_ARM_FRACTION = 0.005
"""Share of exposed users who also log an exposure in the other arm (the assignment bug)."""
DUPLICATE_LOG_FRACTION = 0.08
"""Share of exposure events logged twice, a fraction of a second to a few seconds apart."""
SRM_LOST_FRACTION = 0.25
"""Share of ``tone_tuning`` treatment users whose exposure rows are all lost."""
UNKNOWN_VARIANT = "treatment_hotfix"
"""The variant value a deploy logs by mistake (variant code 2 in the generator)."""


@dataclass(frozen=True)
class Effect:
    """A true injected effect of treatment over control, as the metric would measure it.

    ``change`` is ``"absolute"`` (treatment minus control, in the metric's unit) or
    ``"relative"`` (treatment / control - 1).
    """

    metric: str
    change: str
    value: float
    note: str = ""


@dataclass(frozen=True)
class Mechanism:
    """How the generator applies a treatment to the events of treated conversations."""

    latency_factor: float = 1.0
    token_factor: float = 1.0
    hallucination_factor: float = 1.0
    thumbs_down_factor: float = 1.0
    csat_latent_shift: float = 0.0
    novelty_thumbs_down: float = 0.0
    """Extra cut of the thumbs-down probability at first exposure, fading as
    exp(-days since first exposure / novelty_days): the novelty effect."""
    novelty_days: float = 3.0


@dataclass(frozen=True)
class Experiment:
    """One planted experiment; ``start`` and ``end`` are inclusive dates (UTC)."""

    experiment_id: str
    start: str
    end: str
    effects: tuple[Effect, ...]
    mechanism: Mechanism = field(default_factory=Mechanism)
    arms: tuple[str, str] = ("control", "treatment")
    split: tuple[float, float] = (0.5, 0.5)
    srm_lost_fraction: float = 0.0
    multi_arm_fraction: float = MULTI_ARM_FRACTION
    unknown_from: str = ""
    """Date (UTC) from which a share ``unknown_fraction`` of rows logs ``UNKNOWN_VARIANT``."""
    unknown_fraction: float = 0.0

    @property
    def window_start_us(self) -> int:
        """Return the first instant of the window."""
        return to_us(self.start + "T00:00:00")

    @property
    def window_end_us(self) -> int:
        """Return the end of the window (exclusive): midnight after ``end``."""
        return to_us(self.end + "T00:00:00") + US_PER_DAY


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        "summarizer_v2",
        "2026-10-01",
        "2026-10-14",
        (
            Effect("thumbs_up_share", "absolute", 0.05,
                   "share of thumbs that are up, plus a novelty part fading over ~3 days"),
            Effect("csat_mean", "absolute", 0.2, "mean 1-5 CSAT"),
            Effect("latency_ms", "relative", 0.23, "every assistant latency x1.23 (p95 too)"),
            Effect("cost_usd", "relative", 0.02, "prompt and completion tokens x1.02"),
            Effect("hallucination_rate", "relative", 0.0),
        ),
        Mechanism(
            latency_factor=1.23,
            token_factor=1.02,
            thumbs_down_factor=0.775,
            csat_latent_shift=0.25,
            novelty_thumbs_down=0.55,
        ),
    ),
    Experiment(
        "prompt_template_v3",
        "2026-10-15",
        "2026-10-28",
        (
            Effect("hallucination_rate", "relative", -0.15, "per assistant message"),
            Effect("latency_ms", "relative", 0.0),
            Effect("cost_usd", "relative", 0.0),
            Effect("retry_rate", "relative", -0.05, "approximate: retries follow hallucinations"),
        ),
        Mechanism(hallucination_factor=0.85),
        unknown_from="2026-10-22",
        unknown_fraction=0.01,
    ),
    Experiment("greeting_aa", "2026-10-01", "2026-10-14", ()),
    Experiment("tone_tuning", "2026-10-15", "2026-10-28", (), srm_lost_fraction=SRM_LOST_FRACTION),
)


@dataclass(frozen=True)
class Exposures:
    """One experiment's exposure log for a chunk of users, and which conversations it treats.

    ``treated`` and ``days_since`` (days since the user's first exposure, 0 outside the
    window) are per conversation; ``arm`` (true arm, 0 control, 1 treatment), ``exposed``
    and ``lost`` (exposed but no row logged) are per chunk user; the remaining arrays are the
    logged rows, where ``user`` indexes the chunk's users and ``variant`` is the logged arm.
    """

    treated: B
    days_since: F64
    arm: U8
    exposed: B
    lost: B
    user: I64
    variant: U8
    ts_us: I64
    platform: U8


def expose(
    experiment: Experiment,
    conv_user: I64,
    conv_start: I64,
    user_platform: U8,
    rng: np.random.Generator,
) -> Exposures:
    """Randomise a chunk's users and log their exposures to ``experiment``.

    Args:
        experiment: The experiment.
        conv_user: Chunk-local user index of each conversation, sorted by user then start.
        conv_start: Start of each conversation (µs).
        user_platform: Each chunk user's usual platform code.
        rng: The experiment's random stream for this chunk.
    """
    n_users = len(user_platform)
    arm = (rng.random(n_users) >= experiment.split[0]).astype(np.uint8)
    lost = (arm == 1) & (rng.random(n_users) < experiment.srm_lost_fraction)
    lo, hi = experiment.window_start_us, experiment.window_end_us
    in_window = (conv_start >= lo) & (conv_start < hi)
    treated = in_window & (arm[conv_user] == 1)
    first = np.full(n_users, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, conv_user[in_window], conv_start[in_window])
    days_since = np.where(in_window, (conv_start - first[conv_user]) / US_PER_DAY, 0.0)

    user = conv_user[in_window]
    ts = conv_start[in_window]
    twice = rng.random(len(user)) < DUPLICATE_LOG_FRACTION
    echo_ts = ts[twice] + rng.integers(50_000, 3 * US_PER_SECOND, int(twice.sum()))
    # The assignment bug: a few exposed users log one exposure in the other arm.
    first_of_user = np.flatnonzero(np.r_[True, user[1:] != user[:-1]]) if len(user) else user
    buggy = first_of_user[rng.random(len(first_of_user)) < experiment.multi_arm_fraction]
    bug_ts = ts[buggy] + rng.integers(US_PER_SECOND, 30 * US_PER_MINUTE, len(buggy))

    row_user = np.concatenate([user, user[twice], user[buggy]])
    row_ts = np.minimum(np.concatenate([ts, echo_ts, bug_ts]), hi - 1)
    row_variant = arm[row_user].copy()
    row_variant[len(user) + int(twice.sum()) :] ^= 1
    keep = ~lost[row_user]
    row_user, row_ts, row_variant = row_user[keep], row_ts[keep], row_variant[keep]
    usual = rng.random(len(row_user)) < 0.85
    other = rng.integers(0, 3, len(row_user)).astype(np.uint8)
    platform = np.where(usual, user_platform[row_user], other).astype(np.uint8)
    if experiment.unknown_fraction > 0.0:  # the deploy's bug (drawn last: nothing else moves)
        after = row_ts >= to_us(experiment.unknown_from + "T00:00:00")
        row_variant[after & (rng.random(len(row_ts)) < experiment.unknown_fraction)] = 2
    order = np.lexsort((row_variant, row_ts, row_user))
    exposed = np.zeros(n_users, dtype=bool)
    exposed[user] = True
    return Exposures(
        treated=treated,
        days_since=days_since,
        arm=arm,
        exposed=exposed,
        lost=lost & exposed,
        user=row_user[order],
        variant=row_variant[order],
        ts_us=row_ts[order],
        platform=platform[order],
    )
