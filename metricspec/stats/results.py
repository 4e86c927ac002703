"""Result values of an analysis: frozen, explicit about conventions, JSON-serialisable.

Every float in a result is finite or None (`to_dict` enforces it), so reports never show
NaN or infinity; an impossible computation is an explicit "insufficient data" with a reason.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

__all__ = [
    "AnalysisResult",
    "ArmValue",
    "Conventions",
    "CupedInfo",
    "Decision",
    "Estimate",
    "GuardrailResult",
    "GuardrailStatus",
    "MetricResult",
    "Outcome",
    "Serialisable",
    "SrmResult",
    "SrmStatus",
    "TreatmentDecision",
    "Verdict",
    "finite",
    "to_jsonable",
]


def finite(x: float | None) -> float | None:
    """Return ``x`` as a float if finite, else None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def to_jsonable(obj: Any) -> Any:
    """Convert results (dataclasses, enums, mappings, sequences) to JSON-ready values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return finite(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "item"):  # NumPy scalar
        return to_jsonable(obj.item())
    raise TypeError(f"cannot serialise {type(obj).__name__}")


class Serialisable:
    """Mixin giving frozen result dataclasses a JSON-ready `to_dict`."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (floats finite or None)."""
        out = to_jsonable(self)
        assert isinstance(out, dict)
        return out


class Verdict(StrEnum):
    """Outcome of one comparison, after correction, relative to the desired direction."""

    WIN = "win"
    LOSS = "loss"
    FLAT = "flat"
    CHANGED = "changed"  # significant, but the metric has no desired direction
    INSUFFICIENT = "insufficient data"


class GuardrailStatus(StrEnum):
    """Outcome of a guardrail's non-inferiority test."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    INSUFFICIENT = "insufficient data"


class Outcome(StrEnum):
    """The ship decision."""

    SHIP = "ship"
    DONT_SHIP = "don't ship"
    INCONCLUSIVE = "inconclusive"
    INVALID = "invalid — do not trust results"
    CANNOT_ANALYSE = "cannot analyse"  # no rows, no exposures, none of the declared variants


class SrmStatus(StrEnum):
    """State of the sample-ratio check: a check that did not run is never "passed"."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "not_run"


@dataclass(frozen=True, slots=True)
class ArmValue(Serialisable):
    """One arm's estimate: ``value`` is CUPED-adjusted when CUPED applies."""

    variant: str
    n: float | None
    value: float | None
    unadjusted_value: float | None


@dataclass(frozen=True, slots=True)
class Estimate(Serialisable):
    """An effect with standard error, interval and two-sided p-value."""

    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    p_value: float | None


@dataclass(frozen=True, slots=True)
class Conventions(Serialisable):
    """How a number was computed, spelled out for the report and the analysis plan."""

    test: str
    df: float | None
    variance: str
    lift: str
    sidedness: str
    interval: str
    ci_level: float
    correction: str
    matches: str


@dataclass(frozen=True, slots=True)
class CupedInfo(Serialisable):
    """The CUPED adjustment applied to a comparison."""

    theta: float | None
    theta_method: str
    variance_reduction: float | None


@dataclass(frozen=True, slots=True)
class MetricResult(Serialisable):
    """One metric, one treatment against control, in one segment."""

    metric: str
    kind: str
    role: str
    direction: str
    segment: str
    segment_value: str | None
    exploratory: bool
    control: ArmValue
    treatment: ArmValue
    absolute: Estimate | None
    relative: Estimate | None
    p_value: float | None
    adjusted_p_value: float | None
    significant: bool
    verdict: Verdict
    conventions: Conventions | None
    cuped: CupedInfo | None
    reason: str | None
    bayesian: Any = None
    """The Bayesian readout (`bayesian.BayesianResult`) when the experiment asks for one."""


@dataclass(frozen=True, slots=True)
class GuardrailResult(Serialisable):
    """A guardrail's one-sided non-inferiority test against its margin.

    ``estimate`` and ``bound`` are on the margin's scale (relative lift or absolute
    difference) in natural sign; ``bound`` is the one-sided (1 − α) bound on the bad side.
    """

    metric: str
    treatment: str
    segment: str
    segment_value: str | None
    exploratory: bool
    margin: float | None
    margin_relative: bool
    worse: str
    estimate: float | None
    bound: float | None
    p_value: float | None
    status: GuardrailStatus
    reason: str
    test: str


@dataclass(frozen=True, slots=True)
class SrmResult(Serialisable):
    """Sample-ratio-mismatch check (χ² goodness of fit).

    ``status`` is passed, failed or not run; ``flagged`` is True exactly when it failed;
    ``reason`` says why it did not run, or why it failed without a significant χ² (an arm
    without exposed units).
    """

    status: SrmStatus
    observed: Mapping[str, int]
    expected_share: Mapping[str, float]
    chi2: float | None
    p_value: float | None
    flagged: bool
    srm_alpha: float
    excluded_multiple: int | None
    reason: str | None

    @classmethod
    def insufficient(
        cls,
        reason: str,
        expected_share: Mapping[str, float],
        srm_alpha: float,
        excluded_multiple: int | None,
        observed: Mapping[str, int] | None = None,
    ) -> SrmResult:
        """Return a check that could not be computed (not run, not flagged)."""
        return cls(
            SrmStatus.NOT_RUN,
            dict(observed or {}),
            dict(expected_share),
            None,
            None,
            False,
            srm_alpha,
            excluded_multiple,
            reason,
        )


@dataclass(frozen=True, slots=True)
class TreatmentDecision(Serialisable):
    """The decision for one treatment against control."""

    treatment: str
    outcome: Outcome
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Decision(Serialisable):
    """The overall decision with the treatment to ship (if any) and the reasons."""

    outcome: Outcome
    recommended: str | None
    reasons: tuple[str, ...]
    treatments: tuple[TreatmentDecision, ...]


@dataclass(frozen=True, slots=True)
class AnalysisResult(Serialisable):
    """Everything `analyze` returns; the sample-ratio check comes first."""

    experiment: str
    srm: SrmResult
    decision: Decision
    metrics: tuple[MetricResult, ...]
    guardrails: tuple[GuardrailResult, ...]
    settings: Mapping[str, Any]
    #: Simpson's paradox findings by segmentation (`stats.simpson`); empty when all is well.
    simpson: tuple[Any, ...] = ()

    def metric(
        self,
        name: str,
        treatment: str | None = None,
        segment: str = "all",
        segment_value: str | None = None,
    ) -> MetricResult:
        """Return the result of one metric (first treatment unless named).

        Raises:
            KeyError: No such result.
        """
        for r in self.metrics:
            if (
                r.metric == name
                and (treatment is None or r.treatment.variant == treatment)
                and r.segment == segment
                and r.segment_value == segment_value
            ):
                return r
        raise KeyError((name, treatment, segment, segment_value))
