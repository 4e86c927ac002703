"""The plan of a monitor (or an always-on guardrail): a metric series at the monitor's grain,
a trailing baseline, and an alert rule.

Semantics, stated once:
- a window is *evaluated* when its sample size `n` (the count behind the metric's last
  measure, e.g. the denominator of a ratio) is at least `min_n` (`DEFAULT_MIN_N` when a
  monitor declares none, and for every guardrail); other windows are "insufficient data":
  they never alert, are no part of a baseline, and runs and streaks step over them;
- the trailing baseline P(t) is the mean of the evaluated windows in
  [period − baseline, period); the z-score uses their sample standard deviation;
- a baseline rule judges a window against the baseline *frozen before its run*: a run starts
  at a window s that breaches P(s) and continues through the following evaluated windows
  in [s, s + baseline) while each breaches P(s), ending at the first that does not; a
  window is breached when a run covers it, against the baseline of the earliest such run
  (the one reported). The windows of an incident therefore never become the baseline the
  rest of it is judged by, for up to one baseline length;
- `for N windows` fires when N consecutive evaluated windows are breached;
- from a `start`, the query reads earlier data: for a baseline rule, runs are followed back
  to `anchor_from` = start − baseline − (N − 1) windows and their baselines one more
  baseline before that; for a threshold rule, N − 1 windows (plus a declared baseline, to
  report it). Alerts from `start` on then equal those over the whole history, unless
  windows below `min_n` before `start` break a streak;
- a guardrail alerts when its condition fails: `m <= t` when m > t, `m < t` when m >= t
  (and likewise for `>=` and `>`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Literal

from metricspec import ir
from metricspec.plan.calendar import with_calendar
from metricspec.plan.formula import Part, parts
from metricspec.plan.lower import InternalError, LoweredMetric, Measure, PlanError
from metricspec.plan.metric_query import Grain, MetricQueryPlan, Scan, plan_metric_query
from metricspec.plan.offsets import Shift
from metricspec.semantic import Index

RuleKind = Literal["below_baseline", "above_baseline", "below", "above", "at_or_below",
                   "at_or_above", "zscore_below", "zscore_above"]
N_COLUMN = "sample_n"
# columns of a monitor query besides the dimensions (see emit.monitor_sql)
RESERVED = frozenset({"value", N_COLUMN, "baseline", "baseline_sd", "baseline_windows",
                      "deviation", "breached", "streak", "__row", "__rows", "__run_end",
                      "__anchor", "judged", "alert_limit", "alert", "__alert"})
DEFAULT_MIN_N = 100
"""The minimum sample of a window when a monitor declares no `min_n` (and of every
guardrail): fewer events than this is insufficient data, never an alert."""

BASELINE_RULES = frozenset({"below_baseline", "above_baseline", "zscore_below", "zscore_above"})
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
    anchor_from: dt.datetime | None = None
    #: `baseline offset D`: each window against the same window D earlier (plan.offsets)
    baseline_offset: Shift | None = None

    @property
    def needs_baseline(self) -> bool:
        return self.rule in BASELINE_RULES

    @property
    def has_baseline(self) -> bool:
        """A trailing baseline or an offset one: the query reports a baseline."""
        return self.baseline_seconds is not None or self.baseline_offset is not None

    @property
    def frozen_runs(self) -> bool:
        """A baseline rule over a trailing baseline judges runs against the baseline frozen
        before them; against an offset baseline each window has its own earlier window."""
        return self.needs_baseline and self.baseline_offset is None

    def columns_read(self) -> dict[str, tuple[str, ...]]:
        """Every column the monitor's series reads, by source name (see
        `MetricQueryPlan.columns_read`)."""
        return self.series.columns_read()


def describe_rule(rule: str, threshold: float, consecutive: int, baseline: str | None,
                  min_n: int = DEFAULT_MIN_N, offset: str | None = None) -> str:
    """A rule in words.

    >>> describe_rule("below_baseline", 0.15, 1, "1 hour", 200)
    'more than 15% below its trailing 1 hour baseline, in windows of at least 200 events'
    """
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
    if offset is not None and rule in ("below_baseline", "above_baseline"):
        text = text.replace(f"its trailing {baseline} baseline", f"the same window {offset} "
                            "earlier")
    text += f" for {consecutive} consecutive windows" if consecutive > 1 else ""
    return text + f", in windows of at least {min_n:,} events"


def plan_monitor(index: Index, name: str, *, start: dt.datetime | None = None,
                 end: dt.datetime | None = None) -> MonitorPlan:
    """Plan a monitor or a guardrail by name, evaluated over [start, end)."""
    if name in index.monitors:
        monitor = index.monitors[name]
        if monitor.metric is None or monitor.every is None or monitor.alert is None:
            raise InternalError(f"monitor `{name}` is incomplete", "MS604")
        rule = monitor.alert
        threshold = rule.threshold.fraction
        offset = monitor.baseline_offset
        return _plan(index, name, "monitor", monitor.metric.name, Grain.of(monitor.every),
                     monitor.baseline, rule.kind, threshold, rule.consecutive,
                     monitor.min_n or DEFAULT_MIN_N, tuple(d.name for d in monitor.dimensions),
                     start, end,
                     monitor.span, None if offset is None else Shift(offset.seconds,
                                                                     offset.months))
    if name in index.guardrails:
        guardrail = index.guardrails[name]
        kind = BROKEN_WHEN[guardrail.comparator]
        every = Grain.of(guardrail.every) if guardrail.every else Grain("day")
        return _plan(index, name, "guardrail", guardrail.metric.name, every, None, kind,
                     guardrail.threshold.fraction, 1, DEFAULT_MIN_N, (), start, end,
                     guardrail.span)
    raise PlanError(f"unknown monitor or guardrail `{name}`")


def _plan(index: Index, name: str, kind: Literal["monitor", "guardrail"], metric: str,
          grain: Grain, baseline: ir.Duration | None, rule: RuleKind, threshold: float,
          consecutive: int, min_n: int, dimensions: tuple[str, ...], start: dt.datetime | None,
          end: dt.datetime | None, span: ir.Span, offset: Shift | None = None) -> MonitorPlan:
    # Reported windows need their baseline, a streak its earlier windows, and a run of a
    # baseline rule its start and the baseline before that (see the module docstring).
    grain = with_calendar(grain, index.calendar)  # weeks start on the calendar's day
    streak = dt.timedelta(seconds=(consecutive - 1) * (grain.seconds or 31 * 86400))
    frame = dt.timedelta(seconds=baseline.seconds if baseline else 0)
    anchor_from = scan_start = start
    if start is not None and offset is not None:  # each window's own earlier window
        scan_start = offset.before(start - streak)
    elif start is not None and rule in BASELINE_RULES:
        anchor_from = start - frame - streak
        scan_start = anchor_from - frame
    elif start is not None:
        scan_start = start - frame - streak
    if scan_start is not None:
        # whole windows only: a first window cut at `scan_start` would be a different value
        scan_start = window_start(scan_start, grain)
    taken = [d for d in dimensions if d in RESERVED] + ([metric] if metric == N_COLUMN else [])
    if taken:
        raise InternalError(f"`{taken[0]}` is a column of the {kind} query "
                            f"({', '.join(sorted(RESERVED))})", "MS417")
    series = plan_metric_query(index, [metric], grain=grain, dimensions=dimensions,
                               start=scan_start, end=end, title=name, dense=False)
    series = _with_sample_size(series)
    files = tuple(sorted({span.file, *series.files}))
    return MonitorPlan(
        name=name, kind=kind, metric=metric, series=series, grain=grain,
        baseline_seconds=baseline.seconds if baseline else None, rule=rule,
        threshold=threshold, consecutive=consecutive, min_n=min_n, files=files,
        description=describe_rule(rule, threshold, consecutive,
                                  str(baseline) if baseline else None, min_n,
                                  str(offset) if offset else None), start=start,
        anchor_from=anchor_from if rule in BASELINE_RULES and offset is None else None,
        baseline_offset=offset)


def window_start(at: dt.datetime, grain: Grain) -> dt.datetime:
    """The start of the window holding `at` (grains tile the hour, the day or the ISO week).

    >>> window_start(dt.datetime(2026, 11, 16, 14, 37, 5), Grain("minute", 15))
    datetime.datetime(2026, 11, 16, 14, 30)
    >>> window_start(dt.datetime(2026, 11, 19, 9), Grain("week"))
    datetime.datetime(2026, 11, 16, 0, 0)
    """
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain.unit == "week":
        return day - dt.timedelta(days=(day.weekday() - grain.week_start) % 7)
    if grain.unit == "month":
        return day.replace(day=1)
    step = grain.seconds or 86400
    into = (at - day).total_seconds()
    return day + dt.timedelta(seconds=into - into % step)


def _with_sample_size(series: MetricQueryPlan) -> MetricQueryPlan:
    """Add the measure that counts a window's sample: the events behind the metric's last
    measure (for a ratio, its denominator)."""
    metric = series.metrics[0]
    if metric.window is not None:
        raise InternalError(f"`{metric.name}` is a rolling or cumulative metric", "MS607")
    measures = {m.name: m for scan in series.scans for m in scan.measures}
    names = [p for p in parts(metric.formula) if p in measures]
    if not names:
        raise InternalError(f"`{metric.name}` has no measure to count a sample size from",
                            "MS607")
    last = measures[names[-1]]
    sample = Measure(N_COLUMN, last.source, "count", last.column, None, last.filter)
    scans = tuple(Scan(s.source, (*s.measures, sample) if s.source.name == last.source
                       else s.measures, s.joins) for s in series.scans)
    extra = LoweredMetric(N_COLUMN, Part(N_COLUMN))
    # every other field as planned (the zone, the range, the calendar's settings)
    return replace(series, metrics=(*series.metrics, extra), scans=scans)
