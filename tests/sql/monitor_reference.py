"""Independent pandas computation of the windows a monitor or a guardrail alerts on.

The rule, as `metricspec.plan.monitor` states it: a window is evaluated when its sample
size (the count behind the metric's last measure, e.g. a ratio's denominator) is at least
`min_n` (100 when a monitor declares none, and for every guardrail); its trailing baseline
P(t) is the mean of the evaluated windows in [t − baseline, t) (a z-score divides by their
sample standard deviation). A baseline rule judges a window against the baseline frozen
before its run: a run starts at a window s that breaches P(s) and takes in the following
evaluated windows in [s, s + baseline) while each breaches P(s); a window is breached when
a run covers it, and reports the baseline of the earliest such run. `for N windows` fires
when N consecutive evaluated windows are breached. A guardrail `m <= t` alerts when m > t,
`m < t` when m >= t (and the mirror images for `>=` and `>`). Windows are reported from
`start` on; a baseline rule follows runs that start at or after `start` − baseline − (N − 1)
windows and reads one baseline before that; a threshold rule reads `start` − baseline −
(N − 1) windows (in whole windows: the first is never cut).

Runs are found here by walking forward from each start, window by window (the SQL finds
each run's end with a join instead).
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
# the minimum sample when none is declared
DEFAULT_MIN_N = 100
BASELINE_RULES = ("below_baseline", "above_baseline", "zscore_below", "zscore_above")
# a guardrail's comparator → the rule that breaks it
BROKEN = {"<=": "above", "<": "at_or_above", ">=": "below", ">": "at_or_below"}


@dataclass(frozen=True)
class Rule:
    metric: str
    grain: str
    kind: str
    threshold: float
    min_n: int = DEFAULT_MIN_N
    baseline: pd.Timedelta | None = None
    consecutive: int = 1
    dims: tuple[str, ...] = ()
    #: `baseline offset D`: the same window D earlier (a calendar DateOffset or a Timedelta)
    offset: pd.DateOffset | pd.Timedelta | None = None


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
        offset = m.baseline_offset
        return Rule(m.metric.name, grain_text(m.every.value, m.every.unit), m.alert.kind,
                    m.alert.threshold.fraction, m.min_n or DEFAULT_MIN_N,
                    pd.Timedelta(seconds=m.baseline.seconds) if m.baseline else None,
                    m.alert.consecutive,  # a joined slice's column: `models.family` → models_family
                    tuple(d.name.replace(".", "_") for d in m.dimensions),
                    None if offset is None else pd.DateOffset(months=offset.months)
                    if offset.months else pd.Timedelta(seconds=offset.seconds or 0))
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
    streak = (rule.consecutive - 1) * window_length(rule.grain)
    frame_length = rule.baseline or ZERO
    anchor_from = None
    if start is None:
        read_from = None
    elif rule.offset is not None:
        read_from = start_of_reading(rule, start)
    elif rule.kind in BASELINE_RULES:
        anchor_from = pd.Timestamp(start) - frame_length - streak
        read_from = anchor_from - frame_length
    else:
        read_from = pd.Timestamp(start) - frame_length - streak
    if read_from is not None:  # whole windows: the first is not cut at `read_from`
        read_from = read_from.floor(window_length(rule.grain)) if "week" not in rule.grain \
            else (read_from - pd.Timedelta(days=read_from.weekday())).floor("D")
    q = Query(rule.grain, rule.dims, read_from, end)
    frame = _series(t, rule, q)
    frame = frame[(frame.sample_n >= rule.min_n) & frame.value.notna()]
    parts = [_evaluate(group, rule, anchor_from) for _, group in (
        frame.groupby(list(rule.dims), dropna=False) if rule.dims else [((), frame)])]
    out = pd.concat(parts) if parts else frame.iloc[:0]
    if start is not None:
        out = out[out.period >= pd.Timestamp(start)]
    columns = ["period", *rule.dims, "value", "sample_n", "baseline", "baseline_windows",
               "deviation"]
    return out.loc[out.fired, columns].reset_index(drop=True)


def _trailing(frame: pd.DataFrame, rule: Rule) -> pd.DataFrame:
    """P(t) of every window: mean, sample sd and count of the windows in [t − baseline, t)."""
    periods = frame.period.to_numpy()
    values = frame.value.to_numpy(dtype=float)
    assert rule.baseline is not None
    starts = np.searchsorted(periods, periods - rule.baseline.to_timedelta64(), "left")
    stats = []
    for i, lo in enumerate(starts):
        prev = values[lo:i]
        stats.append((prev.mean() if len(prev) else math.nan,
                      prev.std(ddof=1) if len(prev) > 1 else math.nan, len(prev)))
    return pd.DataFrame(stats, index=frame.index,
                        columns=["baseline", "baseline_sd", "baseline_windows"])


def _breaches(value: float, baseline: float, sd: float, windows: int, rule: Rule) -> bool:
    t = rule.threshold
    if rule.kind == "below_baseline":
        return bool(baseline > 0 and value < baseline * (1 - t))
    if rule.kind == "above_baseline":
        return bool(baseline > 0 and value > baseline * (1 + t))
    if windows < 2 or not sd > 0:
        return False
    z = (value - baseline) / sd
    return bool(z < t if rule.kind == "zscore_below" else z > t)


def _deviation(value: float, baseline: float, sd: float, rule: Rule) -> float:
    if rule.kind in ("below_baseline", "above_baseline"):
        return value / baseline - 1 if baseline != 0 else math.nan
    return (value - baseline) / sd if sd != 0 else math.nan


def offset_baseline(frame: pd.DataFrame, rule: Rule) -> None:
    """`baseline offset D`: each evaluated window's baseline is the evaluated window D
    earlier (none: NaN and 0 windows), in place."""
    assert rule.offset is not None
    earlier = dict(zip(frame.period, frame.value, strict=True))
    frame["baseline"] = [earlier.get(p - rule.offset, math.nan) for p in frame.period]
    frame["baseline_sd"] = math.nan
    frame["baseline_windows"] = frame.baseline.notna().astype(int)


def start_of_reading(rule: Rule, start: dt.datetime) -> pd.Timestamp:
    """With `baseline offset D`: the earliest window a reported one is compared with."""
    assert rule.offset is not None
    streak = (rule.consecutive - 1) * window_length(rule.grain)
    return pd.Timestamp(start) - streak - rule.offset


def _evaluate(frame: pd.DataFrame, rule: Rule, anchor_from: pd.Timestamp | None
              ) -> pd.DataFrame:
    """One series (one combination of dimension values): baseline, breach, streak."""
    frame = frame.sort_values("period").reset_index(drop=True)
    if rule.offset is not None:
        offset_baseline(frame, rule)
    elif rule.baseline is not None:
        frame[["baseline", "baseline_sd", "baseline_windows"]] = _trailing(frame, rule)
    else:
        frame["baseline"], frame["baseline_sd"], frame["baseline_windows"] = (
            math.nan, math.nan, 0)
    v, t = frame.value, rule.threshold
    if rule.offset is not None:
        breached = pd.Series([_breaches(x, b, math.nan, 1, rule) for x, b in zip(
            v, frame.baseline, strict=True)])
        frame["deviation"] = [_deviation(x, b, math.nan, rule) for x, b in zip(
            v, frame.baseline, strict=True)]
    elif rule.kind in BASELINE_RULES:
        breached, frozen = _frozen(frame, rule, anchor_from)
        frame[["baseline", "baseline_sd", "baseline_windows"]] = frozen
        frame["deviation"] = [
            _deviation(x, b, sd, rule) if hit else math.nan
            for x, b, sd, hit in zip(v, frame.baseline, frame.baseline_sd, breached,
                                     strict=True)]
    else:
        breached = {"above": v > t, "at_or_above": v >= t, "below": v < t,
                    "at_or_below": v <= t}[rule.kind]
        frame["deviation"] = v - t
    streak = pd.Series(breached).astype(int).rolling(rule.consecutive, min_periods=1).sum()
    frame["fired"] = (streak >= rule.consecutive).to_numpy()
    return frame


def _frozen(frame: pd.DataFrame, rule: Rule, anchor_from: pd.Timestamp | None
            ) -> tuple[pd.Series, pd.DataFrame]:
    """Walk each run forward from its start; every window covered by a run is breached and
    takes the baseline of the earliest run covering it."""
    n = len(frame)
    rows = list(zip(frame.value, frame.baseline, frame.baseline_sd, frame.baseline_windows,
                    strict=True))
    anchor: list[int | None] = [None] * n
    for s in range(n):
        if anchor_from is not None and frame.period.iloc[s] < anchor_from:
            continue
        _, base, sd, windows = rows[s]
        until = frame.period.iloc[s] + rule.baseline
        u = s
        while (u < n and frame.period.iloc[u] < until
               and _breaches(rows[u][0], base, sd, windows, rule)):
            if anchor[u] is None:
                anchor[u] = s
            u += 1
    frozen = pd.DataFrame(
        [(rows[a][1], rows[a][2], rows[a][3]) if a is not None else (math.nan, math.nan, 0)
         for a in anchor],
        index=frame.index, columns=["baseline", "baseline_sd", "baseline_windows"])
    return pd.Series([a is not None for a in anchor], index=frame.index), frozen
