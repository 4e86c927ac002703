"""What to analyse: metric definitions and the experiment's analysis settings.

These are plain frozen values built by the caller (the analysis-plan stage builds them from
the IR); the statistics engine never reads the IR itself. Invalid settings raise
`ValueError` at construction: they are programming or spec errors, not data problems.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from metricspec.stats.bayesian import BayesianPrior, BayesianSettings
from metricspec.stats.formula import Formula, mean_of, ratio_of
from metricspec.stats.group_sequential import GroupSequentialDesign

__all__ = [
    "Correction",
    "Direction",
    "ExperimentConfig",
    "Margin",
    "Mde",
    "MetricKind",
    "MetricSpec",
    "Role",
]


class MetricKind(StrEnum):
    """How a metric is computed from unit-level components."""

    MEAN = "mean"
    PROPORTION = "proportion"
    RATIO = "ratio"
    DERIVED = "derived"
    QUANTILE = "quantile"


class Role(StrEnum):
    """The metric's role in the experiment."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    GUARDRAIL = "guardrail"


class Direction(StrEnum):
    """Which change of the metric is desirable."""

    INCREASE = "increase"
    DECREASE = "decrease"
    NONE = "none"


class Correction(StrEnum):
    """Multiple-testing correction over the family (primaries + secondaries × treatments)."""

    NONE = "none"
    BONFERRONI = "bonferroni"
    HOLM = "holm"
    BH = "bh"


@dataclass(frozen=True, slots=True)
class Margin:
    """A guardrail's non-inferiority margin: the largest tolerated change in the bad direction.

    Attributes:
        value: Size of the tolerated worsening (positive), e.g. 0.10 for 10 % relative or
            0.005 for 0.5 percentage points absolute.
        relative: Whether ``value`` is relative to the control value.
        worse: Which change is bad; `Direction.NONE` means "opposite of the metric's
            desired direction" (``max_increase`` ⇒ INCREASE, ``max_decrease`` ⇒ DECREASE).
    """

    value: float
    relative: bool = True
    worse: Direction = Direction.NONE

    def __post_init__(self) -> None:
        object.__setattr__(self, "worse", Direction(self.worse))
        if not (math.isfinite(self.value) and self.value >= 0):
            raise ValueError(f"margin must be a finite non-negative number, got {self.value}")

    @classmethod
    def max_increase(cls, value: float, *, relative: bool = True) -> Margin:
        """Return a margin tolerating an increase of at most ``value``."""
        return cls(value, relative, Direction.INCREASE)

    @classmethod
    def max_decrease(cls, value: float, *, relative: bool = True) -> Margin:
        """Return a margin tolerating a decrease of at most ``value``."""
        return cls(value, relative, Direction.DECREASE)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric to analyse.

    Attributes:
        name: Metric name; its components are ``"<name>.x"`` etc.
        kind: How it is computed.
        formula: Formula over component means; defaults to ``mean(name.x)`` for mean and
            proportion, ``mean(name.x)/mean(name.y)`` for ratio; required for derived.
        role: Primary, secondary or guardrail.
        direction: Desired direction of change.
        cuped: Component → pre-period covariate, e.g. ``{"m.x": "m.c", "m.y": "m.d"}``.
        margin: Guardrail non-inferiority margin (guardrails only).
        quantile_level: ``nu`` for quantile metrics, e.g. 0.9.
        source: For quantile metrics, the metric name the quantile statistics are stored
            under (defaults to ``name``; other kinds name their data through the formula).
        prior: This metric's Bayesian prior, overriding the experiment's (`bayesian.py`).
    """

    name: str
    kind: MetricKind = MetricKind.MEAN
    formula: Formula | None = None
    role: Role = Role.SECONDARY
    direction: Direction = Direction.INCREASE
    cuped: Mapping[str, str] | None = field(default=None, hash=False)
    margin: Margin | None = None
    quantile_level: float | None = None
    source: str | None = None
    prior: BayesianPrior | None = None
    components: frozenset[str] = field(init=False, repr=False, compare=False)
    """Every component the analysis reads (post-period and, with CUPED, pre-period)."""
    memo: dict[str, object] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    """Scratch space where analysis modules cache what they derive from the spec."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", MetricKind(self.kind))
        object.__setattr__(self, "role", Role(self.role))
        object.__setattr__(self, "direction", Direction(self.direction))
        if self.formula is None:
            if self.kind in (MetricKind.MEAN, MetricKind.PROPORTION):
                object.__setattr__(self, "formula", mean_of(self.name))
            elif self.kind is MetricKind.RATIO:
                object.__setattr__(self, "formula", ratio_of(self.name))
            elif self.kind is MetricKind.DERIVED:
                raise ValueError(f"derived metric {self.name!r} needs a formula")
        if self.kind is MetricKind.QUANTILE:
            nu = self.quantile_level
            if nu is None or not 0.0 < nu < 1.0:
                raise ValueError(f"quantile metric {self.name!r} needs 0 < quantile_level < 1")
            if self.cuped:
                raise ValueError(f"quantile metric {self.name!r} cannot use CUPED")
        if self.cuped is not None:
            object.__setattr__(self, "cuped", dict(self.cuped))
        names: frozenset[str] = frozenset()
        if self.formula is not None:
            names = self.formula.components()
            if self.cuped:
                names |= self.formula.substitute(self.cuped).components()
        object.__setattr__(self, "components", names)
        if self.margin is not None and self.worse_direction is Direction.NONE:
            raise ValueError(
                f"guardrail {self.name!r}: margin needs max_increase/max_decrease "
                "or a metric direction"
            )

    @property
    def worse_direction(self) -> Direction:
        """Return which change is bad for this metric (for guardrails)."""
        if self.margin is not None and self.margin.worse is not Direction.NONE:
            return self.margin.worse
        if self.direction is Direction.INCREASE:
            return Direction.DECREASE
        if self.direction is Direction.DECREASE:
            return Direction.INCREASE
        return Direction.NONE

    @property
    def in_family(self) -> bool:
        """Return whether the metric belongs to the multiple-testing family."""
        return self.role is not Role.GUARDRAIL


@dataclass(frozen=True, slots=True)
class Mde:
    """Minimum detectable effect for planning: relative (of the baseline) or absolute."""

    value: float
    relative: bool = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.value) and self.value > 0):
            raise ValueError(f"MDE must be positive and finite, got {self.value}")


@dataclass(frozen=True, slots=True)
class ExperimentConfig:
    """Analysis settings of one experiment.

    Attributes:
        control: Name of the control variant.
        variants: Every variant (control included) with its expected traffic share; shares
            are normalised to sum to one.
        alpha: Significance level (two-sided for family tests, one-sided for guardrails).
        power: Target power for planning.
        mde: Minimum detectable effect for planning.
        correction: Multiple-testing correction of the family.
        srm_alpha: Sample-ratio-mismatch threshold on the χ² p-value.
        sequential: Use always-valid confidence sequences and p-values.
        sequential_tuning: N*, the total sample size (all compared arms) at which the
            confidence sequence is tightest.
        name: Experiment name, for reports.
        bayesian: Bayesian readouts beside the frequentist ones, and their decision rule
            deciding the verdicts of primary and secondary metrics (None: frequentist only).
        group_sequential: Planned looks with alpha spending (instead of ``sequential``).
        look: The look being analysed (1-based); else inferred from ``planned_units``.
        planned_units: Planned total units (all arms) at the last look.
        strata: The segment (a pre-exposure dimension) whose rows post-stratify the overall
            comparisons of means and proportions (`poststrat.py`).
    """

    control: str
    variants: Mapping[str, float] = field(hash=False)
    alpha: float = 0.05
    power: float = 0.8
    mde: Mde | None = None
    correction: Correction = Correction.NONE
    srm_alpha: float = 0.001
    sequential: bool = False
    sequential_tuning: float = 5000.0
    name: str = ""
    bayesian: BayesianSettings | None = None
    group_sequential: GroupSequentialDesign | None = None
    look: int | None = None
    planned_units: float | None = None
    strata: str | None = None
    split: Mapping[str, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "correction", Correction(self.correction))
        if self.control not in self.variants:
            raise ValueError(f"control {self.control!r} is not among the variants")
        if len(self.variants) < 2:
            raise ValueError("an experiment needs a control and at least one treatment")
        shares = dict(self.variants)
        if any(not (math.isfinite(s) and s > 0) for s in shares.values()):
            raise ValueError("variant shares must be positive and finite")
        total = sum(shares.values())
        object.__setattr__(self, "variants", shares)
        object.__setattr__(self, "split", {k: v / total for k, v in shares.items()})
        for label, value in (("alpha", self.alpha), ("power", self.power)):
            if not 0.0 < value < 1.0:
                raise ValueError(f"{label} must be in (0, 1), got {value}")
        if not 0.0 < self.srm_alpha < 1.0:
            raise ValueError(f"srm_alpha must be in (0, 1), got {self.srm_alpha}")
        if not (math.isfinite(self.sequential_tuning) and self.sequential_tuning > 0):
            raise ValueError("sequential_tuning (N*) must be positive")
        gs = self.group_sequential
        if gs is not None and self.sequential:
            raise ValueError("choose confidence sequences or a group-sequential design, not both")
        if self.look is not None and (gs is None or not 1 <= self.look <= gs.looks):
            raise ValueError(f"look {self.look} is not a planned look of the design")

    @property
    def treatments(self) -> tuple[str, ...]:
        """Return the non-control variants in declaration order."""
        return tuple(v for v in self.variants if v != self.control)
