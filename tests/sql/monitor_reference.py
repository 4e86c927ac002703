"""Independent pandas computation of the windows a monitor or a guardrail alerts on.

The rule, as `metricspec.plan.monitor` states it: a window is evaluated when its sample
size (the count behind the metric's last measure, e.g. a ratio's denominator) is at least
`min_n`; its baseline is the mean of the evaluated windows in [period − baseline, period),
and a z-score divides by their sample standard deviation; `for N windows` fires when N
consecutive evaluated windows breach. A guardrail `m <= t` alerts when m > t, `m < t` when
m >= t (and the mirror images for `>=` and `>`). Windows are reported from `start` on; the
data is read from `start` − baseline − (N − 1) windows.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sql_reference import METRICS, ZERO, Query, Tables, count, rows

from metricspec.semantic import Index

# the sample behind each metric's last measure: (table, time column, rows counted)
SAMPLES: dict[str, tuple[str, str, Callable[[pd.DataFrame], pd.Series]]] = {
    "csat": ("feedback", "ts", lambda f: f.thumbs.notna()),
    "hallucination_rate": ("messages", "ts", lambda m: m.role == "assistant"),
    "retry_rate": ("messages", "ts", lambda m: m.role == "user"),
    "cost_per_query": ("messages", "ts", lambda m: m.role == "user"),
    "latency_p95": ("messages", "ts", lambda m: (m.role == "assistant") & m.latency_ms.notna()),
    "task_completion": ("conversations", "started_ts", lambda c: pd.Series(True, c.index)),
}
# a guardrail's comparator → the rule that breaks it
BROKEN = {"<=": "above", "<": "at_or_above", ">=": "below", ">": "at_or_below"}


@dataclass(frozen=True)
class Rule:
    metric: str
    grain: str
    kind: str
    threshold: float
    min_n: int = 1
    baseline: pd.Timedelta | None = None
    consecutive: int = 1
    dims: tuple[str, ...] = ()


def grain_text(value: float, unit: str) -> str:
    """`every 5 minutes` → "5 minutes", `every 1 hour` → "hour"."""
    unit = unit.rstrip("s")
    return unit if value == 1 and unit != "minute" else f"{int(value)} {unit}s"


def window_length(grain: str) -> pd.Timedelta:
    """"5 minutes" → 5 minutes, "hour" → 1 hour."""
    count, _, unit = grain.rpartition(" ")
    return int(count or 1) * pd.Timedelta(**{unit.rstrip("s") + "s": 1})


def rule_of(index: Index, name: str) -> Rule:
    """A monitor's or guardrail's rule, read from the spec."""
    if name in index.monitors:
        m = index.monitors[name]
        assert m.metric and m.every and m.alert
        return Rule(m.metric.name, grain_text(m.every.value, m.every.unit), m.alert.kind,
                    m.alert.threshold.fraction, m.min_n or 1,
                    pd.Timedelta(seconds=m.baseline.seconds) if m.baseline else None,
                    m.alert.consecutive, tuple(d.name for d in m.dimensions))
    g = index.guardrails[name]
    grain = grain_text(g.every.value, g.every.unit) if g.every else "day"
    return Rule(g.metric.name, grain, BROKEN[g.comparator], g.threshold.fraction)


def _series(t: Tables, rule: Rule, q: Query) -> pd.DataFrame:
    table, time, counted = SAMPLES[rule.metric]
    frame = rows(getattr(t, table), time, q)
    n = count(frame, q, counted(frame))
    value = METRICS[rule.metric](t, q)
    value, n = value.align(n, join="outer")
    return pd.DataFrame({"value": value, "sample_n": n}).reset_index()


def alerts(t: Tables, rule: Rule, start: dt.datetime | None = None,
           end: dt.datetime | None = None) -> pd.DataFrame:
    """The windows in alert, with the columns a monitor query returns."""
    # the baseline, and the N − 1 windows a streak may need, before `start`
    lookback = (rule.baseline or ZERO) + (rule.consecutive - 1) * window_length(rule.grain)
    q = Query(rule.grain, rule.dims, None if start is None else pd.Timestamp(start) - lookback,
              end)
    frame = _series(t, rule, q)
    frame = frame[(frame.sample_n >= rule.min_n) & frame.value.notna()]
    parts = [_evaluate(group, rule) for _, group in (
        frame.groupby(list(rule.dims), dropna=False) if rule.dims else [((), frame)])]
    out = pd.concat(parts) if parts else frame.iloc[:0]
    if start is not None:
        out = out[out.period >= pd.Timestamp(start)]
    columns = ["period", *rule.dims, "value", "sample_n", "baseline", "baseline_windows",
               "deviation"]
    return out.loc[out.fired, columns].reset_index(drop=True)


def _evaluate(frame: pd.DataFrame, rule: Rule) -> pd.DataFrame:
    """One series (one combination of dimension values): baseline, breach, streak."""
    frame = frame.sort_values("period").reset_index(drop=True)
    if rule.baseline is not None:
        periods = frame.period.to_numpy()
        values = frame.value.to_numpy(dtype=float)
        # the evaluated windows in [period − baseline, period): a slice of the sorted series
        starts = np.searchsorted(periods, periods - rule.baseline.to_timedelta64(), "left")
        stats = []
        for i, lo in enumerate(starts):
            prev = values[lo:i]
            stats.append((prev.mean() if len(prev) else math.nan,
                          prev.std(ddof=1) if len(prev) > 1 else math.nan, len(prev)))
        frame[["baseline", "baseline_sd", "baseline_windows"]] = pd.DataFrame(
            stats, index=frame.index, columns=["baseline", "baseline_sd", "baseline_windows"])
    else:
        frame["baseline"], frame["baseline_sd"], frame["baseline_windows"] = (
            math.nan, math.nan, 0)
    v, b, sd, t = frame.value, frame.baseline, frame.baseline_sd, rule.threshold
    if rule.kind in ("below_baseline", "above_baseline"):
        bound = b * (1 - t) if rule.kind == "below_baseline" else b * (1 + t)
        breached = (b > 0) & ((v < bound) if rule.kind == "below_baseline" else (v > bound))
        deviation = v / b.where(b != 0) - 1
    elif rule.kind in ("zscore_below", "zscore_above"):
        z = (v - b) / sd.where(sd != 0)
        beyond = (z < t) if rule.kind == "zscore_below" else (z > t)
        breached = (frame.baseline_windows >= 2) & (sd > 0) & beyond
        deviation = z
    else:
        breached = {"above": v > t, "at_or_above": v >= t, "below": v < t,
                    "at_or_below": v <= t}[rule.kind]
        deviation = v - t
    frame["deviation"] = deviation
    streak = breached.astype(int).rolling(rule.consecutive, min_periods=1).sum()
    frame["fired"] = streak >= rule.consecutive
    return frame
