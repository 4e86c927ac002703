"""Independent pandas computation of a monitor's series: every window of its range with its
value, sample size, whether it is judged, the baseline it is compared with, the limit the
rule implies and whether it is in alert (the semantics `monitor_reference` states).

A judged window (n ≥ min_n and a value) is compared, under a baseline rule, with the
baseline frozen at the start of the earliest run covering it, and otherwise with its own
trailing baseline P(t); the limit is that baseline × (1 ∓ margin), or baseline + z × sd, or
the fixed threshold. Windows that are not judged keep their value and sample size and have
no baseline, limit, deviation or alert.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from monitor_reference import (
    BASELINE_RULES,
    Rule,
    _breaches,
    _deviation,
    _frozen,
    _series,
    _trailing,
    offset_baseline,
    start_of_reading,
    window_length,
)
from sql_reference import ZERO, Query, Tables

FRAME = ["baseline", "baseline_sd", "baseline_windows"]


def series(t: Tables, rule: Rule, start: dt.datetime | None = None,
           end: dt.datetime | None = None) -> pd.DataFrame:
    streak = (rule.consecutive - 1) * window_length(rule.grain)
    frame_length = rule.baseline or ZERO
    anchor_from = read_from = None
    if start is not None and rule.offset is not None:
        read_from = start_of_reading(rule, start)
    elif start is not None and rule.kind in BASELINE_RULES:
        anchor_from = pd.Timestamp(start) - frame_length - streak
        read_from = anchor_from - frame_length
    elif start is not None:
        read_from = pd.Timestamp(start) - frame_length - streak
    if read_from is not None:
        read_from = read_from.floor(window_length(rule.grain)) if "week" not in rule.grain \
            else (read_from - pd.Timedelta(days=read_from.weekday())).floor("D")
    whole = _series(t, rule, Query(rule.grain, rule.dims, read_from, end))
    judged = (whole.sample_n >= rule.min_n) & whole.value.notna()
    groups = (whole[judged].groupby(list(rule.dims), dropna=False) if rule.dims
              else [((), whole[judged])])
    parts = [_judge(group, rule, anchor_from) for _, group in groups]
    keys = ["period", *rule.dims]
    out = whole.copy()
    out["judged"] = judged.astype(int)
    if parts:
        judgments = pd.concat(parts)[[*keys, "baseline", "baseline_windows", "alert_limit",
                                      "deviation", "fired"]]
        out = out.merge(judgments, on=keys, how="left")
    else:
        out = out.assign(baseline=math.nan, baseline_windows=math.nan, alert_limit=math.nan,
                         deviation=math.nan, fired=False)
    out["alert"] = out.fired.fillna(False).astype(bool)
    if start is not None:
        out = out[out.period >= pd.Timestamp(start)]
    out["alert"] = out.alert.astype(int)
    columns = [*keys, "value", "sample_n", "judged", "baseline", "baseline_windows",
               "alert_limit", "deviation", "alert"]
    return out[columns].sort_values(keys).reset_index(drop=True)


def _judge(frame: pd.DataFrame, rule: Rule, anchor_from: pd.Timestamp | None) -> pd.DataFrame:
    frame = frame.sort_values("period").reset_index(drop=True)
    if rule.offset is not None:
        offset_baseline(frame, rule)
    elif rule.baseline is not None:
        frame[FRAME] = _trailing(frame, rule)
    else:
        frame["baseline"], frame["baseline_sd"], frame["baseline_windows"] = (
            math.nan, math.nan, 0)
    v, t = frame.value, rule.threshold
    if rule.offset is not None:  # each window against its own earlier window
        breached = pd.Series([_breaches(x, b, math.nan, 1, rule) for x, b in
                              zip(v, frame.baseline, strict=True)])
        frame["deviation"] = [_deviation(x, b, math.nan, rule) for x, b in
                              zip(v, frame.baseline, strict=True)]
        frame["alert_limit"] = [_limit(rule, b, math.nan, 1) for b in frame.baseline]
    elif rule.kind in BASELINE_RULES:
        breached, frozen = _frozen(frame, rule, anchor_from)
        for column in FRAME:  # a run's frozen baseline, else the window's own
            frame[column] = frozen[column].where(breached, frame[column])
        frame["deviation"] = [_deviation(x, b, sd, rule) for x, b, sd in
                              zip(v, frame.baseline, frame.baseline_sd, strict=True)]
        frame["alert_limit"] = [_limit(rule, b, sd, n) for b, sd, n in
                                zip(frame.baseline, frame.baseline_sd, frame.baseline_windows,
                                    strict=True)]
    else:
        breached = {"above": v > t, "at_or_above": v >= t, "below": v < t,
                    "at_or_below": v <= t}[rule.kind]
        frame["deviation"] = v - t
        frame["alert_limit"] = t
    streak = pd.Series(breached).astype(int).rolling(rule.consecutive, min_periods=1).sum()
    frame["fired"] = (streak >= rule.consecutive).to_numpy()
    return frame


def _limit(rule: Rule, baseline: float, sd: float, windows: int) -> float:
    t = rule.threshold
    if rule.kind == "below_baseline":
        return baseline * (1 - t) if baseline > 0 else math.nan
    if rule.kind == "above_baseline":
        return baseline * (1 + t) if baseline > 0 else math.nan
    return baseline + t * sd if windows >= 2 and sd > 0 else math.nan
