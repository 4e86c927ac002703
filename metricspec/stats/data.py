"""Containers for an experiment's sufficient statistics, per segment and variant.

The long-format reader (`metricspec.stats.longformat`) builds these; tests and simulations
may build them directly. Statistics are stored per base metric because a metric's unit count
may differ from another's (a per-unit mean is undefined for units without events); a derived
metric's statistics are assembled from its base metrics plus their cross products.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from metricspec.stats.moments import Moments, QuantileMoments

__all__ = ["OVERALL", "ExperimentData", "SegmentData", "VariantData", "base_metric"]

OVERALL = "all"
"""Segment name of the overall (unsegmented) population."""


def base_metric(component: str) -> str:
    """Return the metric a component belongs to.

    >>> base_metric("csat.x")
    'csat'
    """
    return component.rsplit(".", 1)[0]


@dataclass(frozen=True, slots=True)
class VariantData:
    """Everything known about one variant in one segment.

    Attributes:
        moments: Per base metric, its components' moments.
        cross: Per (sorted) pair of base metrics, the cross products Σ a.*·b.* (and ``n``).
        quantiles: Per quantile metric, its quantile inputs.
        units: Exposed units kept in this variant (for the sample-ratio check).
    """

    moments: Mapping[str, Moments] = field(default_factory=dict)
    cross: Mapping[tuple[str, str], Moments] = field(default_factory=dict)
    quantiles: Mapping[str, QuantileMoments] = field(default_factory=dict)
    units: int | None = None

    def moments_for(self, components: Iterable[str]) -> Moments | str:
        """Return merged moments covering ``components`` or a reason they are unavailable
        (missing, unit counts that differ, or statistics no real data can give)."""
        bases = sorted({base_metric(c) for c in components})
        missing = [b for b in bases if b not in self.moments]
        if missing:
            return f"no statistics for {', '.join(missing)}"
        if len(bases) == 1:
            merged: Moments | str = self.moments[bases[0]]
        else:
            parts = [self.moments[b] for b in bases]
            for i, a in enumerate(bases):
                for b in bases[i + 1 :]:
                    cross = self.cross.get((a, b))
                    if cross is not None:
                        parts.append(cross)
            merged = Moments.merge(parts)
        if isinstance(merged, Moments) and (problem := merged.impossible()) is not None:
            return f"impossible statistics: {problem}"
        return merged


@dataclass(frozen=True, slots=True)
class SegmentData:
    """All variants of one segment value (``segment == "all"`` for the overall population)."""

    segment: str
    value: str | None
    variants: Mapping[str, VariantData]

    @property
    def is_overall(self) -> bool:
        """Return whether this is the overall population rather than a segment slice."""
        return self.segment == OVERALL


@dataclass(frozen=True, slots=True)
class ExperimentData:
    """Sufficient statistics of one experiment.

    Attributes:
        segments: The overall population and any segment slices.
        excluded_multiple: Units excluded for appearing in more than one variant.
        experiment: Experiment name, if known.
    """

    segments: tuple[SegmentData, ...]
    excluded_multiple: int | None = None
    experiment: str | None = None

    @property
    def overall(self) -> SegmentData | None:
        """Return the overall segment, if present."""
        for s in self.segments:
            if s.is_overall:
                return s
        return None

    @classmethod
    def single(
        cls, variants: Mapping[str, VariantData], *, excluded_multiple: int | None = None
    ) -> ExperimentData:
        """Return data with only the overall population."""
        return cls((SegmentData(OVERALL, None, variants),), excluded_multiple)
