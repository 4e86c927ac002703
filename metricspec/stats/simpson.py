"""Simpson's paradox: when the overall effect and the segments' effects disagree.

For each declared segmentation, treatment and metric, two findings (issue 11):

- **reversal**: the overall effect has one sign and the effect in *every* segment value
  (at least two with an estimate) has the other — the overall number is driven by who is in
  which group, not by the treatment;
- **mix shift**: the segment mix differs between control and treatment by more than chance:
  a chi-square test of independence of segment value and arm over the exposed units, at the
  sample-ratio check's level. In a randomised experiment a pre-exposure segment has the
  same mix in every arm; a shifted mix means the assignment is broken for some segment, or
  the segment is not pre-exposure (the treatment changed it).

Both are computed from the per-segment unit counts and the metric results already in hand.
`compare_periods` applies the same two findings to a metric's change between two periods
broken down by a dimension (`query --compare`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy import stats as sps

from metricspec.stats.data import ExperimentData
from metricspec.stats.diagnostics import p_text
from metricspec.stats.results import MetricResult, Serialisable


@dataclass(frozen=True, slots=True)
class MixShift(Serialisable):
    """One segment value's share of the units in each group."""

    value: str | None
    control_share: float
    treatment_share: float


@dataclass(frozen=True, slots=True)
class SimpsonCheck(Serialisable):
    """What one segmentation shows for one metric and treatment (or period change)."""

    segmentation: str
    metric: str
    treatment: str
    reversal: bool
    overall: float | None
    segment_effects: Mapping[str, float]
    mix_p_value: float | None
    mix_shifted: bool
    shifts: tuple[MixShift, ...]
    message: str


def mix_test(counts: Mapping[str | None, tuple[float, float]]
             ) -> tuple[float | None, tuple[MixShift, ...]]:
    """The chi-square p-value of segment value × group, and each value's shares, the
    largest shift first. None when the table has fewer than two values or an empty group.

    >>> p, shifts = mix_test({"new": (80, 20), "returning": (20, 80)})
    >>> p < 1e-10, shifts[0].value, shifts[0].control_share
    (True, 'new', 0.8)
    """
    rows = [(v, c, t) for v, (c, t) in counts.items() if c + t > 0]
    total_c, total_t = sum(r[1] for r in rows), sum(r[2] for r in rows)
    if len(rows) < 2 or total_c <= 0 or total_t <= 0:
        return None, ()
    table = [[c, t] for _, c, t in rows]
    p = float(sps.chi2_contingency(table, correction=False).pvalue)
    shifts = sorted((MixShift(v, c / total_c, t / total_t) for v, c, t in rows),
                    key=lambda s: (-abs(s.treatment_share - s.control_share), str(s.value)))
    return p, tuple(shifts)


def check(segmentation: str, metric: str, treatment: str, overall: float | None,
          effects: Mapping[str, float], counts: Mapping[str | None, tuple[float, float]],
          alpha: float, groups: tuple[str, str] = ("control", "treatment"),
          what: str = "effect") -> SimpsonCheck:
    """Judge one segmentation: the reversal and the mix shift, with the words to say."""
    signs = {math.copysign(1, e) for e in effects.values() if e != 0}
    reversal = (overall is not None and overall != 0 and len(effects) >= 2
                and len(signs) == 1 and all(e != 0 for e in effects.values())
                and signs != {math.copysign(1, overall)})
    p, shifts = mix_test(counts)
    shifted = p is not None and p < alpha
    words = []
    if reversal:
        assert overall is not None
        words.append(f"Simpson's paradox in `{metric}` by `{segmentation}`: the overall "
                     f"{what} is {_sign(overall)} but the {what} in every segment is "
                     f"{_sign(-overall)}")
    if shifted and shifts:
        top = shifts[0]
        words.append(f"the `{segmentation}` mix differs between {groups[0]} and {groups[1]} "
                     f"(chi-square {p_text(p)}): `{top.value}` is "
                     f"{top.control_share:.1%} of {groups[0]} and "
                     f"{top.treatment_share:.1%} of {groups[1]}")
    return SimpsonCheck(segmentation, metric, treatment, reversal, overall, dict(effects), p,
                        shifted, shifts, "; ".join(words))


def simpson_checks(data: ExperimentData, results: Sequence[MetricResult], control: str,
                   alpha: float) -> tuple[SimpsonCheck, ...]:
    """Every finding of an experiment's segmentations: reversals per metric and treatment,
    mix shifts per treatment (reported with the first metric), nothing when all is well."""
    counts: dict[str, dict[str | None, dict[str, float]]] = {}
    for seg in data.segments:
        if seg.is_overall:
            continue
        for variant, values in seg.variants.items():
            if values.units is not None:
                counts.setdefault(seg.segment, {}).setdefault(seg.value, {})[variant] = \
                    values.units
    overall = {(r.metric, r.treatment.variant): r for r in results if r.segment == "all"}
    found: list[SimpsonCheck] = []
    for (metric, treatment), result in overall.items():
        for segmentation, by_value in counts.items():
            effects = {str(r.segment_value): r.absolute.estimate for r in results
                       if r.segment == segmentation and r.metric == metric
                       and r.treatment.variant == treatment and r.absolute is not None
                       and r.absolute.estimate is not None}
            table = {v: (n.get(control, 0.0), n.get(treatment, 0.0))
                     for v, n in by_value.items()}
            estimate = result.absolute.estimate if result.absolute else None
            finding = check(segmentation, metric, treatment, estimate, effects, table, alpha,
                            (control, treatment))
            if finding.reversal or finding.mix_shifted:
                found.append(finding)
    return tuple(found)


def _sign(value: float) -> str:
    return "positive" if value > 0 else "negative"


@dataclass(frozen=True, slots=True)
class PeriodComparison(Serialisable):
    """A metric in two periods, overall and by segment, with what Simpson would warn of."""

    metric: str
    segmentation: str
    before: str
    after: str
    overall: tuple[float | None, float | None]
    segments: Mapping[str, tuple[float | None, float | None]]
    finding: SimpsonCheck


def compare_periods(metric: str, segmentation: str, periods: tuple[str, str],
                    overall: tuple[float | None, float | None],
                    segments: Mapping[str, tuple[float | None, float | None]],
                    weights: Mapping[str, tuple[float, float]] | None = None,
                    alpha: float = 0.001) -> PeriodComparison:
    """The change of a metric between two periods, overall and per segment value; the
    reversal (the overall change against every segment's) and, given each segment's
    weight in each period (a count), whether the mix shifted more than chance.

    >>> c = compare_periods("csat", "plan", ("w1", "w2"), (0.80, 0.78),
    ...                     {"free": (0.70, 0.72), "pro": (0.90, 0.91)},
    ...                     {"free": (100, 300), "pro": (300, 100)})
    >>> c.finding.reversal, c.finding.mix_shifted
    (True, True)
    """
    def change(pair: tuple[float | None, float | None]) -> float | None:
        a, b = pair
        return None if a is None or b is None else b - a

    effects = {v: d for v, pair in segments.items() if (d := change(pair)) is not None}
    counts: dict[str | None, tuple[float, float]] = {
        v: w for v, w in (weights or {}).items()}
    finding = check(segmentation, metric, periods[1], change(overall), effects, counts,
                    alpha, periods, "change")
    return PeriodComparison(metric, segmentation, periods[0], periods[1], overall,
                            dict(segments), finding)
