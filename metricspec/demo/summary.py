"""What :func:`metricspec.demo.generate` returns: row counts, timing and the ground truth."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from metricspec.demo.experiments import Effect, Experiment
from metricspec.demo.monitoring import Incident
from metricspec.demo.timeline import END_US, START_US, from_us


@dataclass(frozen=True)
class ExperimentTruth:
    """One experiment as planted, with the exposure counts the generator produced.

    ``window_start`` and ``window_end`` are ISO timestamps, the end exclusive (midnight after
    ``end``). ``exposed_users`` counts users by their true arm, including those whose rows were
    lost; ``logged_users`` counts users with at least one row per variant in
    ``support.assignments`` (multi-arm users count in both); ``lost_users`` lost every row.
    """

    experiment_id: str
    start: str
    end: str
    window_start: str
    window_end: str
    arms: tuple[str, str]
    split: tuple[float, float]
    effects: tuple[Effect, ...]
    srm_lost_fraction: float
    multi_arm_fraction: float
    exposed_users: tuple[int, int]
    logged_users: tuple[int, int]
    multi_arm_users: int
    lost_users: int

    @classmethod
    def of(cls, experiment: Experiment, counts: tuple[int, ...]) -> ExperimentTruth:
        """Build from a definition and the counts, in the order of this class's fields."""
        return cls(
            experiment_id=experiment.experiment_id,
            start=experiment.start,
            end=experiment.end,
            window_start=from_us(experiment.window_start_us),
            window_end=from_us(experiment.window_end_us),
            arms=experiment.arms,
            split=experiment.split,
            effects=experiment.effects,
            srm_lost_fraction=experiment.srm_lost_fraction,
            multi_arm_fraction=experiment.multi_arm_fraction,
            exposed_users=(counts[0], counts[1]),
            logged_users=(counts[2], counts[3]),
            multi_arm_users=counts[4],
            lost_users=counts[5],
        )

    def effect(self, metric: str) -> Effect | None:
        """Return the planted effect on ``metric``, if any."""
        return next((e for e in self.effects if e.metric == metric), None)


@dataclass(frozen=True)
class DemoSummary:
    """The result of one generation run.

    Attributes:
        scale: The scale generated.
        seed: The seed used.
        rows: Row count per table of schema ``support``.
        seconds: Wall-clock generation time.
        period_start: First instant of the data (ISO, UTC).
        period_end: End of the data, exclusive.
        experiments: The planted experiments, in the order of ``EXPERIMENTS``.
        incident: The planted monitoring incident.
    """

    scale: float
    seed: int
    rows: Mapping[str, int]
    seconds: float
    experiments: tuple[ExperimentTruth, ...]
    incident: Incident
    period_start: str = from_us(START_US)
    period_end: str = from_us(END_US)

    def experiment(self, experiment_id: str) -> ExperimentTruth:
        """Return the ground truth of one experiment by id."""
        for truth in self.experiments:
            if truth.experiment_id == experiment_id:
                return truth
        raise KeyError(experiment_id)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (incident times as ISO strings)."""
        out = asdict(self)
        out["rows"] = dict(self.rows)
        incident = out["incident"]
        for key in ("start_us", "end_us", "dense_start_us", "dense_end_us"):
            incident[key.removesuffix("_us")] = from_us(incident.pop(key))
        return out
