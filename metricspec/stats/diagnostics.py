"""Diagnostics read before any metric: where and when the split broke, variants nobody
declared, units exposed before the window, and the primary metrics over time.

Input: the rows of the daily diagnostics query (docs/sufficient-statistics.md, "Daily
diagnostics"), as mappings. Conventions (docs/statistics.md, "Diagnostics"):

* sample ratio by day: χ² goodness of fit of the units *first exposed* that day against
  the declared split (k − 1 df), p-values Holm-adjusted over the days; a day is flagged
  when its adjusted p is below the experiment's `srm_alpha`, and the first such day is
  where the imbalance started. By segment: the same over each segment's values (Holm
  within a segment dimension);
* units logged with a variant value the experiment does not declare are counted, per day
  and in total; the main analysis drops them, so any such unit fails the sample-ratio
  check including them (an undeclared arm has expected share 0);
* units exposed in the window with an assignment row before it are counted per variant;
* novelty and the cumulative lift: `metricspec.stats.novelty`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import special

from metricspec.stats.corrections import adjust
from metricspec.stats.novelty import (
    CumulativePoint,
    DayEffect,
    DaySums,
    Trend,
    cohort_trend,
    cumulative_point,
    day_effect,
)
from metricspec.stats.spec import Correction

__all__ = ["NULL_VARIANT", "DaySrm", "Diagnostics", "MetricOverTime", "SegmentSrm", "diagnose"]

NULL_VARIANT = "(null)"


@dataclass(frozen=True, slots=True)
class DaySrm:
    day: int
    observed: dict[str, int]
    unknown: int
    p_value: float | None
    adjusted_p: float | None
    flagged: bool


@dataclass(frozen=True, slots=True)
class SegmentSrm:
    segment: str
    value: str | None
    observed: dict[str, int]
    p_value: float | None
    adjusted_p: float | None
    flagged: bool


@dataclass(frozen=True, slots=True)
class MetricOverTime:
    metric: str
    kind: str
    treatment: str
    by_day_since_exposure: tuple[DayEffect, ...]
    trend: Trend
    cumulative: tuple[CumulativePoint, ...]


@dataclass(frozen=True, slots=True)
class Diagnostics:
    by_day: tuple[DaySrm, ...]
    first_flagged_day: int | None
    by_segment: tuple[SegmentSrm, ...]
    unknown_variants: dict[str, int]  # value → units over the window
    first_unknown_day: int | None
    unknown_by_day: dict[int, int]
    srm_with_unknown: str  # "passed", "failed" or "not_run"
    before_window: dict[str, int]
    metrics: tuple[MetricOverTime, ...]

    def warnings(self) -> tuple[str, ...]:
        """What the report says before the metrics, one line each (empty: all clear)."""
        out = []
        if self.unknown_variants:
            values = ", ".join(f"'{v}' {n:,}" for v, n in self.unknown_variants.items())
            out.append(f"units logged with undeclared variants ({values}) from day "
                       f"{self.first_unknown_day}: dropped by the analysis, so the split "
                       "including them fails")
        if self.first_flagged_day is not None:
            days = sum(d.flagged for d in self.by_day)
            out.append(f"sample ratio by day: first mismatch on day {self.first_flagged_day}"
                       f" ({days} of {len(self.by_day)} days flagged, Holm-adjusted)")
        for s in self.by_segment:
            if s.flagged:
                out.append(f"sample ratio in segment {s.segment} = {s.value}: adjusted "
                           f"{p_text(s.adjusted_p)}")
        if sum(self.before_window.values()):
            counts = ", ".join(f"{v} {n:,}" for v, n in self.before_window.items())
            out.append(f"units exposed before the window ({counts}): their pre-period may "
                       "already be treated")
        for m in self.metrics:
            if m.trend.flagged and m.trend.slope is not None:
                word = "fades" if m.trend.pattern == "novelty" else "grows"
                out.append(f"{m.trend.pattern}: the {m.metric} effect of {m.treatment} {word}"
                           f" with days since exposure (slope {m.trend.slope:+.3g}/day, "
                           f"{p_text(m.trend.p_value)})")
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["warnings"] = list(self.warnings())
        clean: dict[str, Any] = _finite(data)
        return clean


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _chi2(observed: Mapping[str, int], split: Mapping[str, float]) -> float | None:
    counts = np.array([observed.get(v, 0) for v in split], dtype=float)
    total = counts.sum()
    if total == 0 or len(split) < 2:
        return None
    expected = np.array(list(split.values()), dtype=float)
    expected = expected / expected.sum() * total
    return float(special.chdtrc(len(split) - 1, float(((counts - expected) ** 2 / expected).sum())))


def _holm(p: list[float | None]) -> list[float | None]:
    present = [x for x in p if x is not None]
    if not present:
        return list(p)
    adjusted = iter(adjust(present, Correction.HOLM).tolist())
    return [None if x is None else next(adjusted) for x in p]


def _sums(row: Mapping[str, Any]) -> DaySums:
    def f(name: str) -> float | None:
        v = row.get(name)
        return None if v is None else float(v)

    return DaySums(int(row["n"] or 0), f("sum_x") or 0.0, f("sum_x2") or 0.0, f("sum_y"),
                   f("sum_y2"), f("sum_xy"))


def diagnose(rows: Iterable[Mapping[str, Any]], *, control: str, split: Mapping[str, float],
             kinds: Mapping[str, str], srm_alpha: float = 0.001, alpha: float = 0.05,
             overall: Mapping[tuple[str, str], float | None] | None = None) -> Diagnostics:
    """The diagnostics of one experiment from its daily rows.

    `kinds`: each followed metric's kind (mean, proportion, ratio); `overall`: the main
    analysis's effect per (metric, treatment), to name a trend novelty or primacy."""
    exposures: dict[int, dict[str, int]] = {}
    segments: dict[tuple[str, str | None], dict[str, int]] = {}
    unknown_day: dict[int, int] = {}
    unknown_total: dict[str, int] = {}
    before: dict[str, int] = {v: 0 for v in split}
    daily: dict[tuple[str, str, int], dict[str, DaySums]] = {}
    trends: dict[str, dict[str, DaySums]] = {}
    for row in rows:
        kind, variant = row["kind"], row.get("variant")
        day = int(row.get("day") or 0)
        n = int(row["n"] or 0)
        if kind == "exposures":
            exposures.setdefault(day, {})[str(variant)] = n
        elif kind == "segment":
            key = (str(row["segment"]), row.get("segment_value"))
            segments.setdefault(key, {})[str(variant)] = n
        elif kind == "unknown":
            unknown_day[day] = unknown_day.get(day, 0) + n
        elif kind == "unknown_total":
            unknown_total[NULL_VARIANT if variant is None else str(variant)] = n
        elif kind == "before":
            before[str(variant)] = n
        elif kind == "trend":
            trends.setdefault(str(row["metric"]), {})[str(variant)] = _sums(row)
        elif kind in ("novelty", "cumulative", "cohort"):
            daily.setdefault((kind, str(row["metric"]), day), {})[str(variant)] = _sums(row)
    days = sorted(set(exposures) | set(unknown_day))
    p = [_chi2(exposures.get(d, {}), split) for d in days]
    adj = _holm(p)
    by_day = tuple(DaySrm(d, {v: exposures.get(d, {}).get(v, 0) for v in split},
                          unknown_day.get(d, 0), pd, ad, ad is not None and ad < srm_alpha)
                   for d, pd, ad in zip(days, p, adj, strict=True))
    first = next((d.day for d in by_day if d.flagged), None)
    by_segment: list[SegmentSrm] = []
    for name in dict.fromkeys(s for s, _ in segments):
        keys = sorted((k for k in segments if k[0] == name), key=lambda k: str(k[1]))
        ps = [_chi2(segments[k], split) for k in keys]
        for k, pk, ak in zip(keys, ps, _holm(ps), strict=True):
            by_segment.append(SegmentSrm(name, k[1], {v: segments[k].get(v, 0) for v in split},
                                         pk, ak, ak is not None and ak < srm_alpha))
    declared = sum(sum(c.values()) for c in exposures.values())
    srm_unknown = ("not_run" if declared == 0 and not unknown_total
                   else "failed" if unknown_total else "passed")
    metrics = tuple(_over_time(daily, trends.get(name, {}), name, kind, control, t, alpha,
                               (overall or {}).get((name, t)))
                    for name, kind in kinds.items() for t in split if t != control)
    return Diagnostics(by_day, first, tuple(by_segment), dict(sorted(unknown_total.items())),
                       min(unknown_day) if unknown_day else None, dict(sorted(unknown_day.items())),
                       srm_unknown, before, metrics)


def _over_time(daily: Mapping[tuple[str, str, int], dict[str, DaySums]],
               trends: Mapping[str, DaySums], metric: str, kind: str, control: str,
               treatment: str, alpha: float, overall: float | None) -> MetricOverTime:
    empty = DaySums(0, 0.0, 0.0)
    effects = []
    points = []
    cohort: list[tuple[DaySums, DaySums]] = []
    for (k, name, day), arms in sorted(daily.items()):
        if name != metric:
            continue
        if k == "cohort":
            cohort.append((arms.get(control, empty), arms.get(treatment, empty)))
        elif k == "novelty":
            effects.append(day_effect(day, arms.get(control, empty), arms.get(treatment, empty),
                                      kind))
        else:
            points.append(cumulative_point(day, control, treatment,
                                           {v: s for v, s in arms.items()
                                            if v in (control, treatment)}, kind, alpha))
    units = (trends.get(control, empty), trends.get(treatment, empty))
    found = cohort_trend(cohort, units, kind, alpha, overall)
    return MetricOverTime(metric, kind, treatment, tuple(effects), found, tuple(points))


def p_text(p: float | None) -> str:
    """A p-value in prose as the reports write it: `p = 0.012`, `p = 0.0003`, `p < 0.0001`.

    >>> p_text(0.0123), p_text(3e-185), p_text(0.0)
    ('p = 0.012', 'p < 0.0001', 'p < 0.0001')
    """
    if p is None or p != p:
        return "p –"
    if p < 1e-4:
        return "p < 0.0001"
    return f"p = {p:.4f}" if p < 1e-3 else f"p = {p:.3f}"
