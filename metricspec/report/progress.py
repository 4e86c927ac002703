"""How far an experiment is: units per arm against the sample the analysis plan asks for,
and days elapsed against the planned window. Built from the analysis plan's document (plain
data, see `document.analysis_plan.build_plan`) so the report needs nothing from `document`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metricspec.report import fmt


@dataclass(frozen=True)
class Progress:
    planned_per_variant: dict[str, int] | None  # the largest sample primary metrics need
    sized_by: str | None  # the metric (label) that needs it
    observed: dict[str, int]  # units per variant so far
    planned_days: float
    elapsed_days: float
    note: str = ""

    @property
    def sample_share(self) -> float | None:
        """The smallest arm's share of the planned sample (capped at 1)."""
        planned = self.planned_per_variant
        if not planned or not self.observed:
            return None
        return min(1.0, min(self.observed.get(v, 0) / n for v, n in planned.items() if n))

    @property
    def time_share(self) -> float:
        return min(1.0, self.elapsed_days / self.planned_days) if self.planned_days else 1.0

    @property
    def sample_text(self) -> str:
        arms = ", ".join(f"{v} {fmt.count(n)}" for v, n in self.observed.items())
        if not self.planned_per_variant:
            return f"{arms} (no planned sample: {self.note or 'no power calculation'})"
        planned = ", ".join(f"{v} {fmt.count(n)}" for v, n in self.planned_per_variant.items())
        return (f"{arms} of {planned} planned ({(self.sample_share or 0) * 100:.0f}% of the "
                f"smallest arm's target; sized by {self.sized_by})")

    @property
    def time_text(self) -> str:
        return (f"day {min(self.elapsed_days, self.planned_days):.0f} of "
                f"{self.planned_days:.0f} ({self.time_share * 100:.0f}%)")


def progress_of(plan_document: Mapping[str, Any], observed: Mapping[str, int],
                start: dt.datetime, end: dt.datetime, now: dt.datetime) -> Progress:
    """Progress from the analysis plan (its primary metrics' power) and the units seen."""
    needs = []
    reasons = []
    for metric in plan_document.get("metrics", []):
        if metric.get("role") != "primary":
            continue
        power = metric.get("power") or {}
        per_variant = power.get("n_per_variant")
        if isinstance(per_variant, Mapping) and per_variant:
            needs.append((sum(per_variant.values()), str(metric.get("label")),
                          {str(v): int(n) for v, n in per_variant.items()}))
        elif power.get("reason"):
            reasons.append(str(power["reason"]))
    planned: dict[str, int] | None = None
    sized_by = None
    if needs:
        _, sized_by, planned = max(needs, key=lambda need: need[0])
    planned_days = max(0.0, (end - start).total_seconds() / 86400)
    elapsed = min(max(0.0, (now - start).total_seconds() / 86400), planned_days)
    return Progress(planned, sized_by, {str(k): int(v) for k, v in observed.items()},
                    planned_days, elapsed, "; ".join(dict.fromkeys(reasons)))
