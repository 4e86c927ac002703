"""Why the north star moved: a KPI tree's values in two periods, and each driver's share of
its parent's change by the composition the tree declares.

- `sum`: a driver contributes its own change (exact).
- `weighted`: a driver contributes its weight times its change (exact).
- `product` and `ratio`: the log-mean Divisia index (LMDI-I): with L = (C₁ − C₀)/(ln C₁ − ln C₀)
  the log mean of the composed value, driver d contributes L·ln(d₁/d₀) (the denominator of a
  ratio with the opposite sign); the contributions add up to the composed value's change
  exactly. It needs every value positive; otherwise the change is left unexplained.
- `drivers(…)`: no composition is declared, so no share can be computed: the parent's whole
  change is the unexplained residual.

The residual of an edge is the parent's change minus its drivers' contributions: zero when
the parent is exactly its composition, the change of the reconciliation residual (the
reconciliation query's `residual` column) when it is not. The north star's change is then
expanded down the tree through every composed edge, in proportion to each child's own
explanation, into the leaves' contributions plus the residuals met on the way.

Only numbers here: the command line (and the docs site) run the queries and pass the rows.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from metricspec import ir
from metricspec.plan.lower import PlanError
from metricspec.plan.metric_query import Grain

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """A span of time [start, end) read as one value of each metric: a month (`2026-11`), a
    day (`2026-11-03`) or a range of days within one month (`2026-11-01..2026-11-15`, both
    days included)."""

    text: str
    start: dt.datetime
    end: dt.datetime
    grain: Grain

    @classmethod
    def parse(cls, text: str) -> Period:
        text = text.strip()
        try:
            if m := _MONTH.match(text):
                start = dt.datetime(int(m[1]), int(m[2]), 1)
                end = dt.datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
                return cls(text, start, end, Grain("month"))
            if _DAY.match(text):
                start = dt.datetime.fromisoformat(text)
                return cls(text, start, start + dt.timedelta(days=1), Grain("day"))
            first, sep, last = text.partition("..")
            if sep and _DAY.match(first.strip()) and _DAY.match(last.strip()):
                start = dt.datetime.fromisoformat(first.strip())
                end = dt.datetime.fromisoformat(last.strip()) + dt.timedelta(days=1)
                if end <= start:
                    raise PlanError(f"the period `{text}` ends before it starts")
                if (start.year, start.month) != ((end - dt.timedelta(days=1)).year,
                                                 (end - dt.timedelta(days=1)).month):
                    raise PlanError(f"the period `{text}` spans months: a range must lie "
                                    "within one month (or name the month: 2026-11)")
                return cls(text, start, end, Grain("month"))
        except ValueError:
            pass
        raise PlanError(f"unknown period `{text}`: use a month (2026-11), a day (2026-11-03) "
                        "or days within one month (2026-11-01..2026-11-15)")


@dataclass(frozen=True)
class NodeChange:
    metric: str
    label: str
    before: float | None
    after: float | None
    direction: str | None

    @property
    def change(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def relative(self) -> float | None:
        change = self.change
        return None if change is None or not self.before else change / abs(self.before)

    @property
    def tone(self) -> str:
        """`good` when it moved the way its direction wants, `bad` the other way, else
        `neutral` (no direction, no change or no data)."""
        change = self.change
        if not change or self.direction not in ("up", "down"):
            return "neutral"
        return "good" if (change > 0) == (self.direction == "up") else "bad"


@dataclass(frozen=True)
class EdgeExplanation:
    parent: str
    composition: str
    method: str  # additive, weights, LMDI, or none
    change: float | None  # the parent's change
    contributions: tuple[tuple[str, float | None], ...]  # driver → its share of the change
    residual: float | None  # the change its drivers do not explain
    note: str = ""


@dataclass(frozen=True)
class KpiExplanation:
    name: str
    north_star: str | None
    period: str
    baseline: str
    nodes: dict[str, NodeChange]
    edges: tuple[EdgeExplanation, ...]
    # the north star's change as leaf contributions plus residuals, in tree order
    breakdown: tuple[tuple[str, float], ...] = field(default=())
    unexplained: float | None = None


def _rounded(x: float, scale: float) -> float:
    """Floating-point noise (below 1e-9 of the values' size) is no residual."""
    return 0.0 if abs(x) <= 1e-9 * scale else x


def _log_mean(a: float, b: float) -> float:
    return a if math.isclose(a, b, rel_tol=1e-12) else (a - b) / (math.log(a) - math.log(b))


def explain_edge(edge: ir.KpiEdge, before: Mapping[str, float | None],
                 after: Mapping[str, float | None]) -> EdgeExplanation:
    """One edge's decomposition from the values of its parent and drivers in both periods."""
    parent = edge.parent.name
    names = [d.metric.name for d in edge.drivers]
    p0, p1 = before.get(parent), after.get(parent)
    change = None if p0 is None or p1 is None else p1 - p0
    values = [(before.get(n), after.get(n)) for n in names]
    missing = change is None or any(a is None or b is None for a, b in values)
    if edge.composition == "drivers":
        return EdgeExplanation(parent, "drivers", "none", change,
                               tuple((n, None) for n in names), change,
                               "drivers only (no composition): its change is unexplained")
    if missing:
        return EdgeExplanation(parent, edge.composition, "none", change,
                               tuple((n, None) for n in names), None, "no data in a period")
    pairs = [(float(a), float(b)) for a, b in values]  # type: ignore[arg-type]
    assert change is not None
    if edge.composition in ("sum", "weighted"):
        weights = [d.weight if d.weight is not None else 1.0 for d in edge.drivers]
        shares = [w * (b - a) for w, (a, b) in zip(weights, pairs, strict=True)]
        method = "additive" if edge.composition == "sum" else "weights"
    else:  # product, ratio: LMDI-I
        signs = [1.0] * len(pairs)
        if edge.composition == "ratio":
            signs[1] = -1.0
        if any(a <= 0 or b <= 0 for a, b in pairs):
            return EdgeExplanation(parent, edge.composition, "none", change,
                                   tuple((n, None) for n in names), change,
                                   "a value is not positive, so the log decomposition does not "
                                   "apply: the whole change is unexplained")
        c0 = math.prod(a ** s for (a, _), s in zip(pairs, signs, strict=True))
        c1 = math.prod(b ** s for (_, b), s in zip(pairs, signs, strict=True))
        weight = _log_mean(c1, c0)
        shares = [weight * s * math.log(b / a) for (a, b), s in zip(pairs, signs, strict=True)]
        method = "LMDI"
    residual = _rounded(change - sum(shares), max(abs(p0 or 0.0), abs(p1 or 0.0)))
    return EdgeExplanation(parent, edge.composition, method, change,
                           tuple(zip(names, shares, strict=True)), residual)


def explain(kpi: ir.Kpi, metrics: Mapping[str, ir.Metric], before: Mapping[str, Any],
            after: Mapping[str, Any], period: str, baseline: str) -> KpiExplanation:
    """The tree's values in both periods (`before`: the baseline, `after`: the period asked
    about; metric name → value) and every edge's decomposition."""
    def number(values: Mapping[str, Any], name: str) -> float | None:
        v = values.get(name)
        return None if v is None or not math.isfinite(float(v)) else float(v)

    names = kpi.metric_names()
    b = {n: number(before, n) for n in names}
    a = {n: number(after, n) for n in names}
    nodes = {n: NodeChange(n, metrics[n].label or n if n in metrics else n, b[n], a[n],
                           metrics[n].direction if n in metrics else None) for n in names}
    edges = tuple(explain_edge(e, b, a) for e in kpi.edges)
    star = kpi.north_star.name if kpi.north_star else (kpi.edges[0].parent.name
                                                        if kpi.edges else None)
    breakdown, unexplained = _breakdown(star, edges, nodes)
    return KpiExplanation(kpi.name, star, period, baseline, nodes, edges, breakdown, unexplained)


def _breakdown(star: str | None, edges: Sequence[EdgeExplanation],
               nodes: Mapping[str, NodeChange]) -> tuple[tuple[tuple[str, float], ...],
                                                         float | None]:
    """The north star's change spread over the leaves of its composed edges: a child's
    contribution is split among its own drivers in proportion to their shares of the child's
    change (its residual keeps its part). Returns (metric → amount, unexplained total)."""
    if star is None or nodes[star].change is None:
        return (), None
    by_parent = {e.parent: e for e in edges}
    amounts: dict[str, float] = {}
    unexplained = 0.0

    def spread(name: str, amount: float, depth: int) -> None:
        nonlocal unexplained
        edge = by_parent.get(name)
        change = nodes[name].change
        explained = (edge is not None and edge.method != "none" and edge.residual is not None
                     and change and depth < 32)
        if not explained:
            if name == star:  # nothing explains the north star: all of it is residual
                unexplained += amount
            else:
                amounts[name] = amounts.get(name, 0.0) + amount
            return
        assert edge is not None and change and edge.residual is not None
        for driver, share in edge.contributions:
            spread(driver, amount * (share or 0.0) / change, depth + 1)
        unexplained += amount * edge.residual / change

    spread(star, nodes[star].change or 0.0, 0)
    node = nodes[star]
    scale = max(abs(node.before or 0.0), abs(node.after or 0.0))
    return tuple(amounts.items()), _rounded(unexplained, scale)
