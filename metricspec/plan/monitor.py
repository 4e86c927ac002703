"""The plan of a monitor (or an always-on guardrail): a metric series at the monitor's grain,
a trailing baseline, and an alert rule.

Semantics, stated once:
- a window is *evaluated* when its sample size `n` (the count behind the metric's last
  measure, e.g. the denominator of a ratio) is at least `min_n`;
- the baseline is the mean of the evaluated windows in the trailing frame
  [period − baseline, period); the z-score uses their sample standard deviation;
- `for N windows` fires when the rule holds in N consecutive evaluated windows; from a
  `start`, the query reads N − 1 windows (plus the baseline) earlier, so a streak that began
  just before `start` still counts (one interrupted by windows below `min_n` there may not);
- a guardrail alerts when its condition fails: `m <= t` when m > t, `m < t` when m >= t
  (and likewise for `>=` and `>`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from metricspec import ir
from metricspec.plan.formula import Part, parts
from metricspec.plan.lower import LoweredMetric, Measure, PlanError
from metricspec.plan.metric_query import Grain, MetricQueryPlan, Scan, plan_metric_query
from metricspec.semantic import Index

RuleKind = Literal["below_baseline", "above_baseline", "below", "above", "at_or_below",
                   "at_or_above", "zscore_below", "zscore_above"]
N_COLUMN = "sample_n"
# columns of a monitor query besides the dimensions (see emit.monitor_sql)
RESERVED = frozenset({"value", N_COLUMN, "baseline", "baseline_sd", "baseline_windows",
                      "deviation", "breached", "streak"})
# A guardrail `m <= 6000` alerts when the metric is above 6000; `m < 6000` already at 6000.
BROKEN_WHEN: dict[str, RuleKind] = {"<=": "above", "<": "at_or_above", ">=": "below",
                                    ">": "at_or_below"}


@dataclass(frozen=True)
class MonitorPlan:
    name: str
    kind: Literal["monitor", "guardrail"]
    metric: str
    series: MetricQueryPlan
    grain: Grain
    baseline_seconds: int | None
    rule: RuleKind
    threshold: float
    consecutive: int
    min_n: int
    files: tuple[str, ...]
    description: str
    start: dt.datetime | None = None

    @property
    def needs_baseline(self) -> bool:
        return self.rule in ("below_baseline", "above_baseline", "zscore_below", "zscore_above")


def describe_rule(rule: str, threshold: float, consecutive: int, baseline: str | None) -> str:
    """A rule in words, e.g. "below its trailing 1 hour baseline by more than 15%"."""
    text = {
        "below_baseline": f"more than {threshold:.0%} below its trailing {baseline} baseline",
        "above_baseline": f"more than {threshold:.0%} above its trailing {baseline} baseline",
        "below": f"below {threshold:g}",
        "above": f"above {threshold:g}",
        "at_or_below": f"at or below {threshold:g}",
        "at_or_above": f"at or above {threshold:g}",
        "zscore_below": f"a z-score below {threshold:g} against the trailing {baseline}",
        "zscore_above": f"a z-score above {threshold:g} against the trailing {baseline}",
    }[rule]
    return text + (f" for {consecutive} consecutive windows" if consecutive > 1 else "")


def plan_monitor(index: Index, name: str, *, start: dt.datetime | None = None,
                 end: dt.datetime | None = None) -> MonitorPlan:
    """Plan a monitor or a guardrail by name, evaluated over [start, end)."""
    if name in index.monitors:
        monitor = index.monitors[name]
        if monitor.metric is None or monitor.every is None or monitor.alert is None:
            raise PlanError(f"monitor `{name}` is incomplete; run `metricspec check`")
        rule = monitor.alert
        threshold = rule.threshold.fraction
        return _plan(index, name, "monitor", monitor.metric.name, Grain.of(monitor.every),
                     monitor.baseline, rule.kind, threshold, rule.consecutive,
                     monitor.min_n or 1, tuple(d.name for d in monitor.dimensions), start, end,
                     monitor.span)
    if name in index.guardrails:
        guardrail = index.guardrails[name]
        kind = BROKEN_WHEN[guardrail.comparator]
        every = Grain.of(guardrail.every) if guardrail.every else Grain("day")
        return _plan(index, name, "guardrail", guardrail.metric.name, every, None, kind,
                     guardrail.threshold.fraction, 1, 1, (), start, end, guardrail.span)
    raise PlanError(f"unknown monitor or guardrail `{name}`")


def _plan(index: Index, name: str, kind: Literal["monitor", "guardrail"], metric: str,
          grain: Grain, baseline: ir.Duration | None, rule: RuleKind, threshold: float,
          consecutive: int, min_n: int, dimensions: tuple[str, ...], start: dt.datetime | None,
          end: dt.datetime | None, span: ir.Span) -> MonitorPlan:
    # Reported windows need their baseline, and a streak its earlier windows: read back the
    # baseline plus (N − 1) windows before `start`.
    lookback = (baseline.seconds if baseline else 0) + (consecutive - 1) * (
        grain.seconds or 31 * 86400)
    scan_start = start - dt.timedelta(seconds=lookback) if start and lookback else start
    taken = [d for d in dimensions if d in RESERVED] + ([metric] if metric == N_COLUMN else [])
    if taken:
        raise PlanError(f"`{taken[0]}` is a column of the {kind} query "
                        f"({', '.join(sorted(RESERVED))}); rename the dimension or metric")
    series = plan_metric_query(index, [metric], grain=grain, dimensions=dimensions,
                               start=scan_start, end=end, title=name)
    series = _with_sample_size(series)
    files = tuple(sorted({span.file, *series.files}))
    return MonitorPlan(
        name=name, kind=kind, metric=metric, series=series, grain=grain,
        baseline_seconds=baseline.seconds if baseline else None, rule=rule,
        threshold=threshold, consecutive=consecutive, min_n=min_n, files=files,
        description=describe_rule(rule, threshold, consecutive,
                                  str(baseline) if baseline else None), start=start)


def _with_sample_size(series: MetricQueryPlan) -> MetricQueryPlan:
    """Add the measure that counts a window's sample: the events behind the metric's last
    measure (for a ratio, its denominator)."""
    metric = series.metrics[0]
    if metric.window is not None:
        raise PlanError(f"`{metric.name}` is a rolling or cumulative metric; monitor the "
                        "underlying metric instead")
    measures = {m.name: m for scan in series.scans for m in scan.measures}
    names = [p for p in parts(metric.formula) if p in measures]
    if not names:
        raise PlanError(f"`{metric.name}` has no measure to count a sample size from")
    last = measures[names[-1]]
    sample = Measure(N_COLUMN, last.source, "count", last.column, None, last.filter)
    scans = tuple(Scan(s.source, (*s.measures, sample) if s.source.name == last.source
                       else s.measures) for s in series.scans)
    extra = LoweredMetric(N_COLUMN, Part(N_COLUMN))
    return MetricQueryPlan(
        title=series.title, metrics=(*series.metrics, extra), scans=scans,
        conversions=series.conversions, sources=series.sources, grain=series.grain,
        dimensions=series.dimensions, start=series.start, end=series.end, files=series.files)
