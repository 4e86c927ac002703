"""Independent pandas computation of an experiment query's long-format rows.

From the raw tables and docs/sufficient-statistics.md, never from the SQL: first exposure
per unit in the window (declared variants only; at one instant the smallest variant, then
segment value), units in two variants dropped and counted, unit values over
[first exposure, window end) with missing → 0, CUPED covariates over
[window start − cuped, window start), winsorisation at the nearest-rank percentile
ceil(p·N) of all exposed units, and exact percentile rows: q, bounds at
ν ∓ z·sqrt(ν(1−ν)/n*), and per unit the events whose value is ≤ q (ties at q all count).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sql_reference import Tables, completed, truth

from metricspec.semantic import Index

Z_975 = 1.959963984540054


@dataclass(frozen=True)
class Agg:
    """A unit-level aggregate of one source: COUNT(*) / COUNT(column) / SUM(column)."""

    func: str  # "count" or "sum"
    column: str | None = None
    where: Callable[[pd.DataFrame], pd.Series] | None = None

    def values(self, frame: pd.DataFrame) -> pd.Series:
        if self.func == "sum":
            assert self.column is not None
            value = frame[self.column].astype("float64").fillna(0.0)
        else:
            value = pd.Series(1.0, index=frame.index)
            if self.column is not None:
                value = value.where(frame[self.column].notna(), 0.0)
        if self.where is not None:
            value = value.where(truth(self.where(frame)), 0.0)
        return value


@dataclass(frozen=True)
class RatioBase:
    """x / y per unit (a ratio of counts or sums, or an average); y may read another source."""

    source: str
    x: Agg
    y: Agg
    y_source: str | None = None


@dataclass(frozen=True)
class QuantileBase:
    source: str
    column: str
    level: float
    where: Callable[[pd.DataFrame], pd.Series] | None = None


@dataclass(frozen=True)
class ConversionBase:
    """Per unit: started (a start event at/after exposure, before the window end) → y = 1;
    converted (an end event in [first start, first start + within), before the window end)
    → x = 1. Units that never started have x = y = 0."""

    start_source: str
    end_source: str
    end_where: Callable[[pd.DataFrame], pd.Series]
    within: pd.Timedelta


def _assistant(m: pd.DataFrame) -> pd.Series:
    return m.role == "assistant"


def _user(m: pd.DataFrame) -> pd.Series:
    return m.role == "user"


BASES: dict[str, RatioBase | QuantileBase | ConversionBase] = {
    # conversion(conversations -> feedback where thumbs = 'up', within 1 day, by user_id)
    "thumbs_up_within_a_day": ConversionBase("conversations", "feedback",
                                             lambda f: f.thumbs == "up", pd.Timedelta(days=1)),
    "csat": RatioBase("feedback", Agg("count", where=lambda f: f.thumbs == "up"),
                      Agg("count", where=lambda f: f.thumbs.notna())),
    "csat_score": RatioBase("feedback", Agg("sum", "csat_score"), Agg("count", "csat_score")),
    "ces": RatioBase("feedback", Agg("sum", "effort_score"), Agg("count", "effort_score")),
    "task_completion": RatioBase("conversations", Agg("count", where=completed),
                                 Agg("count")),
    "cost_per_query": RatioBase("messages", Agg("sum", "cost_usd"), Agg("count", where=_user)),
    "hallucination_rate": RatioBase(
        "messages", Agg("count", where=lambda m: _assistant(m) & truth(m.hallucinated)),
        Agg("count", where=_assistant)),
    "retry_rate": RatioBase(
        "messages", Agg("count", where=lambda m: _user(m) & truth(m.is_retry)),
        Agg("count", where=_user)),
    "correction_rate": RatioBase(
        "messages", Agg("count", where=lambda m: _user(m) & truth(m.is_correction)),
        Agg("count", where=_user)),
    "escalation_rate": RatioBase("conversations", Agg("count", where=lambda c: c.escalated),
                                 Agg("count")),
    "prompt_cost_per_query": RatioBase("messages", Agg("sum", "prompt_cost_usd"),
                                       Agg("count", where=_user)),
    "completion_cost_per_query": RatioBase("messages", Agg("sum", "completion_cost_usd"),
                                           Agg("count", where=_user)),
    "tokens_per_answer": RatioBase("messages", Agg("sum", "completion_tokens", _assistant),
                                   Agg("count", "completion_tokens", _assistant)),
    "queries_per_conversation": RatioBase("messages", Agg("count", where=_user), Agg("count"),
                                          y_source="conversations"),
    "latency_p50": QuantileBase("messages", "latency_ms", 0.5, _assistant),
    "latency_p95": QuantileBase("messages", "latency_ms", 0.95, _assistant),
    "latency_p99": QuantileBase("messages", "latency_ms", 0.99, _assistant),
}
TIME_COLUMNS = {"feedback": "ts", "conversations": "started_ts", "messages": "ts"}


@dataclass(frozen=True)
class ExperimentDef:
    """An experiment's window, variants and settings (read from the spec), and the bases it
    measures (restated from the metric definitions above)."""

    name: str
    assignment_id: str
    start: pd.Timestamp
    end: pd.Timestamp
    bases: tuple[str, ...]
    cuped_days: float | None = None
    cuped: tuple[str, ...] = ()
    derived: tuple[tuple[str, ...], ...] = ()
    segments: tuple[str, ...] = ()
    winsorize: dict[str, float] = field(default_factory=dict)
    variants: tuple[str, ...] = ("control", "treatment")

    @property
    def pre_start(self) -> pd.Timestamp | None:
        return None if self.cuped_days is None else self.start - pd.Timedelta(days=self.cuped_days)

    @property
    def cross(self) -> list[tuple[str, str]]:
        """Unordered pairs of the bases of each derived metric (sorted)."""
        pairs: dict[tuple[str, str], None] = {}
        for group in self.derived:
            names = sorted(group)
            for i, a in enumerate(names):
                for b in names[i + 1:]:
                    pairs.setdefault((a, b))
        return list(pairs)


# trust_score = weighted(csat: 0.5, task_completion: 0.3, 1 - retry_rate: 0.2)
DERIVED = {"trust_score": ("csat", "task_completion", "retry_rate")}


def experiment_def(index: Index, name: str) -> ExperimentDef:
    """An example experiment as the reference reads it.

    Settings come from the spec; what each metric measures comes from `BASES` and
    `DERIVED`. CUPED covers the bases analysed on their own (not a percentile, not only a
    part of a derived metric), as the plan documents.
    """
    e = index.experiments[name]
    assert e.window is not None and e.assignment is not None and e.assignment.filter
    # every example assigns with `where experiment_id = '<an id>'`
    match = re.fullmatch(r"\s*experiment_id\s*=\s*'([^']*)'\s*", e.assignment.filter.sql)
    assert match, e.assignment.filter.sql
    refs = [r.name for r in (*e.primary, *e.secondary)] + [g.metric.name for g in e.guardrails]
    refs = list(dict.fromkeys(refs))
    missing = [r for r in refs if r not in BASES and r not in DERIVED]
    assert not missing, f"restate {missing} in experiment_reference.BASES or DERIVED"
    own = [r for r in refs if r in BASES]
    derived = tuple(DERIVED[r] for r in refs if r in DERIVED)
    bases = tuple(dict.fromkeys([*own, *[b for group in derived for b in group]]))
    cuped = tuple(b for b in own if isinstance(BASES[b], RatioBase)) if e.cuped else ()
    return ExperimentDef(
        name=name, assignment_id=match.group(1), start=pd.Timestamp(e.window.start),
        end=pd.Timestamp(e.window.end_exclusive),
        bases=bases, cuped_days=e.cuped.seconds / 86400 if e.cuped else None, cuped=cuped,
        derived=derived, segments=tuple(s.name for s in e.segments),
        winsorize={m.name: w.fraction for w in e.winsorize for m in w.metrics},
        variants=tuple(v.name for v in e.variants))


def exposures(t: Tables, e: ExperimentDef) -> tuple[pd.DataFrame, int]:
    """Each unit's first exposure in the window (declared variants only), and how many units
    were dropped for being exposed to more than one variant."""
    a = t.assignments
    a = a[(a.experiment_id == e.assignment_id) & (a.assigned_ts >= e.start)
          & (a.assigned_ts < e.end) & a.variant.isin(e.variants) & a.user_id.notna()]
    variants = a.groupby("user_id").variant.nunique()
    multiple = set(variants[variants > 1].index)
    # the first exposure; at one instant, the smallest variant, then segment value
    first = a.sort_values(["user_id", "assigned_ts", "variant", *e.segments], kind="stable")
    first = first.drop_duplicates("user_id")
    first = first[~first.user_id.isin(multiple)]
    out = first.rename(columns={"user_id": "unit", "assigned_ts": "exposed_at"})
    return out[["unit", "variant", "exposed_at", *e.segments]].reset_index(drop=True), len(
        multiple)


def _events(t: Tables, e: ExperimentDef, source: str, units: pd.DataFrame) -> pd.DataFrame:
    frame = getattr(t, source)
    time = TIME_COLUMNS[source]
    lower = e.pre_start if e.pre_start is not None else e.start
    frame = frame[(frame[time] >= lower) & (frame[time] < e.end)]
    joined = frame.merge(units[["unit", "exposed_at"]], left_on="user_id", right_on="unit")
    joined["post"] = joined[time] >= joined.exposed_at
    joined["pre"] = joined[time] < e.start if e.pre_start is not None else False
    return joined


def unit_table(t: Tables, e: ExperimentDef) -> tuple[pd.DataFrame, int]:
    """One row per exposed unit: x, y (and c, d for CUPED) of every ratio base, missing → 0;
    plus the event-level rows of every quantile base (`quantile_events`)."""
    units, multiple = exposures(t, e)
    table = units.copy()
    events: dict[str, pd.DataFrame] = {}
    for name in e.bases:
        base = BASES[name]
        if isinstance(base, ConversionBase):
            table[f"{name}.x"], table[f"{name}.y"] = _conversion(t, e, base, units)
            continue
        if not isinstance(base, RatioBase):
            continue
        for role, agg, source in (("x", base.x, base.source),
                                  ("y", base.y, base.y_source or base.source)):
            if source not in events:
                events[source] = _events(t, e, source, units)
            ev = events[source]
            values = agg.values(ev)
            post = values.where(ev.post, 0.0).groupby(ev.unit).sum()
            table[f"{name}.{role}"] = table.unit.map(post).fillna(0.0)
            if name in e.cuped:
                pre = values.where(ev.pre, 0.0).groupby(ev.unit).sum()
                table[f"{name}.{'c' if role == 'x' else 'd'}"] = table.unit.map(pre).fillna(0.0)
    for name, level in e.winsorize.items():
        for role in ("x", "c"):
            column = f"{name}.{role}"
            if column not in table:
                continue
            ordered = np.sort(table[column].to_numpy())
            cap = ordered[math.ceil(level * len(ordered)) - 1]
            table[column] = np.minimum(table[column], cap)
    return table, multiple


def _conversion(t: Tables, e: ExperimentDef, base: ConversionBase, units: pd.DataFrame
                ) -> tuple[pd.Series, pd.Series]:
    starts = _events(t, e, base.start_source, units)
    time = TIME_COLUMNS[base.start_source]
    first = starts[starts.post].groupby("unit")[time].min().rename("first_at")
    ends = _events(t, e, base.end_source, units)
    ends = ends[truth(base.end_where(ends))][["unit", TIME_COLUMNS[base.end_source]]]
    ends = ends.rename(columns={TIME_COLUMNS[base.end_source]: "end_at"}).merge(
        first.reset_index(), on="unit")
    hit = ends[(ends.end_at >= ends.first_at) & (ends.end_at < ends.first_at + base.within)]
    converted = units.unit.isin(set(hit.unit)).astype(float)
    started = units.unit.isin(set(first.index)).astype(float)
    return converted.to_numpy(), started.to_numpy()


def quantile_events(t: Tables, e: ExperimentDef, name: str, units: pd.DataFrame
                    ) -> pd.DataFrame:
    base = BASES[name]
    assert isinstance(base, QuantileBase)
    ev = _events(t, e, base.source, units)
    keep = ev.post & ev[base.column].notna()
    if base.where is not None:
        keep &= truth(base.where(ev))
    ev = ev.loc[keep, ["unit", base.column]].rename(columns={base.column: "value"})
    return ev.merge(units.drop(columns=["exposed_at"]), on="unit")


def n_star(n: int) -> float:
    """100·2^k, the largest such number not above n."""
    k = math.floor(math.log2(n / 100))
    while 100 * 2.0 ** (k + 1) <= n:
        k += 1
    while 100 * 2.0**k > n:
        k -= 1
    return 100 * 2.0**k


def quantile_stats(events: pd.DataFrame, level: float) -> dict[str, float]:
    """The quantile row of one (segment, variant): see docs/sufficient-statistics.md."""
    ordered = events.sort_values(["value", "unit"], kind="stable")
    values = ordered.value.to_numpy()
    n = len(values)
    star = n_star(n)
    spread = Z_975 * math.sqrt(level * (1 - level) / star)
    q = float(np.quantile(values, level, method="linear"))
    # a unit's events at or below q, by value: every tied value at q counts
    ordered = ordered.assign(below=(ordered.value <= q).astype(float))
    per_unit = ordered.groupby("unit").below.agg(["sum", "size"])
    below, count_ = per_unit["sum"].astype(float), per_unit["size"].astype(float)
    return {
        "n": len(per_unit),
        "sum_x": below.sum(), "sum_x2": (below**2).sum(),
        "sum_y": count_.sum(), "sum_y2": (count_**2).sum(), "sum_xy": (below * count_).sum(),
        "q": q,
        "q_lower": float(np.quantile(values, max(0.0, level - spread), method="linear")),
        "q_upper": float(np.quantile(values, min(1.0, level + spread), method="linear")),
        "q_n_star": star,
    }


def _ratio_stats(group: pd.DataFrame, name: str, cuped: bool) -> dict[str, float]:
    x, y = group[f"{name}.x"], group[f"{name}.y"]
    out = {"n": len(group), "sum_x": x.sum(), "sum_x2": (x * x).sum(), "sum_y": y.sum(),
           "sum_y2": (y * y).sum(), "sum_xy": (x * y).sum()}
    if cuped:
        c, d = group[f"{name}.c"], group[f"{name}.d"]
        out |= {"sum_c": c.sum(), "sum_c2": (c * c).sum(), "sum_xc": (x * c).sum(),
                "sum_d": d.sum(), "sum_d2": (d * d).sum(), "sum_cd": (c * d).sum(),
                "sum_xd": (x * d).sum(), "sum_yc": (y * c).sum(), "sum_yd": (y * d).sum()}
    return out


def experiment_rows(t: Tables, e: ExperimentDef) -> pd.DataFrame:
    """The expected long-format rows of an experiment query."""
    table, multiple = unit_table(t, e)
    quantiles = {name: quantile_events(t, e, name, table[["unit", "variant", "exposed_at",
                                                          *e.segments]])
                 for name in e.bases if isinstance(BASES[name], QuantileBase)}
    out: list[dict[str, object]] = []
    partitions: list[tuple[str, str | None]] = [("all", None)] + [(s, s) for s in e.segments]
    for segment, column in partitions:
        keys = ["variant"] + ([column] if column else [])
        for key, group in table.groupby(keys):
            variant = key[0]
            value = None if column is None else str(key[1])
            head = {"experiment": e.name, "segment": segment, "segment_value": value,
                    "variant": variant}
            out.append(head | {"metric": "__units__", "n": len(group)})
            for name in e.bases:
                base = BASES[name]
                if isinstance(base, QuantileBase):
                    ev = quantiles[name]
                    ev = ev[ev.variant == variant]
                    if column is not None:
                        ev = ev[ev[column].astype(str) == value]
                    out.append(head | {"metric": name} | quantile_stats(ev, base.level))
                else:
                    out.append(head | {"metric": name}
                               | _ratio_stats(group, name, name in e.cuped))
            for a, b in e.cross:
                xa, ya, xb, yb = (group[f"{a}.x"], group[f"{a}.y"], group[f"{b}.x"],
                                  group[f"{b}.y"])
                out.append(head | {"metric": a, "metric_2": b, "n": len(group),
                                   "cross_xx": (xa * xb).sum(), "cross_xy": (xa * yb).sum(),
                                   "cross_yx": (ya * xb).sum(), "cross_yy": (ya * yb).sum()})
    out.append({"experiment": e.name, "segment": "all", "segment_value": None,
                "variant": "__multiple__", "metric": "__units__", "n": multiple})
    return pd.DataFrame(out)

