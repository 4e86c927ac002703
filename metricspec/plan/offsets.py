"""Time transforms inside expressions: offsets (period over period) and windowed metrics in
arithmetic (`stickiness = dau / mau`, `wow = n - offset(n, 1 week)`).

A metric whose expression holds an `offset`/`growth`, or a rolling or cumulative window that
is not the whole metric, is split into *components*: the largest parts without a time
transform, and each window (whole, as its own metric). The components are computed by the
ordinary metric query (one column each, on the dense series); the metric is then a formula
over their columns, each read at the period itself or at a period `shift` earlier:

    offset(x, d)  x's formula over the components read `d` earlier
    growth(x, d)  x / offset(x, d) - 1  (NULL where the offset is 0 or NULL: safe division)

The query scans from `start` less the longest shift (and less the components' own windows),
so an offset at the first requested period has its data; only requested periods are kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from metricspec import ir
from metricspec.plan.calendar import add_months
from metricspec.plan.formula import Bin, Const, Formula, Part, rename
from metricspec.plan.lower import InternalError, LoweredMetric, Lowering, PlanError, to_formula

#: How a formula part names a component read at an earlier period: `<component>@<shift>`.
SHIFTED = "@"


@dataclass(frozen=True)
class Shift:
    """A distance back in time: a fixed number of seconds, or of calendar months."""

    seconds: int | None = None
    months: int | None = None

    def __str__(self) -> str:
        if self.months is not None and self.months % 12 == 0:
            return f"{self.months // 12} year{'' if self.months == 12 else 's'}"
        if self.months is not None:
            return f"{self.months} month{'' if self.months == 1 else 's'}"
        seconds = self.seconds or 0
        for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
            if seconds % size == 0:
                count = seconds // size
                return f"{count} {unit}{'' if count == 1 else 's'}"
        return f"{seconds} seconds"

    def before(self, at: dt.datetime) -> dt.datetime:
        """`at` this far earlier (calendar months clamp the day to the month's last).

        >>> Shift(months=1).before(dt.datetime(2026, 3, 31))
        datetime.datetime(2026, 2, 28, 0, 0)
        >>> Shift(seconds=7 * 86400).before(dt.datetime(2026, 3, 31))
        datetime.datetime(2026, 3, 24, 0, 0)
        """
        if self.months is None:
            return at - dt.timedelta(seconds=self.seconds or 0)
        return add_months(at, -self.months)


@dataclass(frozen=True)
class SeriesMetric:
    """A requested metric as a formula over component columns (`c` now, `c@k` shifted by
    the plan's k-th shift)."""

    name: str
    formula: Formula


@dataclass(frozen=True)
class SeriesPlan:
    """What is computed over the components' series after the metric query."""

    components: tuple[LoweredMetric, ...]
    shifts: tuple[Shift, ...]
    #: the requested start (the components are scanned from earlier)
    start: dt.datetime | None


def transformed(expr: ir.Expr) -> bool:
    """Whether an expanded expression needs `plan_series`: an offset anywhere, or a window
    that is not the whole expression."""
    nodes = ir.walk(expr)
    if any(isinstance(n, ir.Offset) for n in nodes):
        return True
    return any(isinstance(n, ir.Window) for n in nodes[1:]) and not isinstance(expr, ir.Window)


def shift_of(node: ir.Offset) -> Shift:
    return Shift(months=node.months) if node.months is not None else Shift(seconds=node.seconds)


def plan_series(lowering: Lowering, metrics: list[str], grain_seconds: int | None,
                grain_months: int | None, grain: str, start: dt.datetime | None
                ) -> tuple[tuple[LoweredMetric, ...], SeriesPlan, dt.datetime | None]:
    """The requested metrics over components, the series plan, and the start to scan from."""
    components: dict[str, LoweredMetric] = {}
    keys: dict[str, str] = {}
    shifts: list[Shift] = []

    def component(expr: ir.Expr, owner: str, name: str | None = None) -> str:
        key = repr(ir.strip_spans(expr))
        if key not in keys:
            if name is None:
                count = sum(c.startswith(f"{owner}__c") for c in components) + 1
                name = f"{owner}__c{count}"
            keys[key] = name
            components[name] = lowering.expression(name, expr)
        return keys[key]

    def lower(expr: ir.Expr, owner: str) -> Formula:
        def leaf(node: ir.Expr) -> Formula | None:
            if isinstance(node, ir.Offset):
                inner = lower(node.expr, owner)
                shift = shift_of(node)
                _check_grain(shift, grain_seconds, grain_months, grain, owner)
                if shift not in shifts:
                    shifts.append(shift)
                k = shifts.index(shift)
                before = rename(inner, lambda p: Part(_shifted(p, k)))
                if node.mode == "offset":
                    return before
                return Bin("-", Bin("/", inner, before), Const(1.0))
            if isinstance(node, ir.Window):
                if any(isinstance(n, ir.Offset) for n in ir.walk(node.expr)):
                    raise InternalError(f"`{owner}` rolls an offset", "MS452")
                return Part(component(node, owner))
            if isinstance(node, ir.MetricRef):
                raise InternalError(f"`{owner}` refers to `{node.name}`", "MS201/MS301")
            if isinstance(node, (ir.Number, ir.BinaryOp, ir.Negate, ir.Weighted)) and (
                    transformed(node) or not _aggregates(node)):
                return None  # arithmetic around transforms, and constants: the formula's
            return Part(component(node, owner))

        return to_formula(expr, leaf)

    expanded = {name: lowering.index.expand(lowering.index.metrics[name].expr)
                for name in metrics}
    formulas: dict[str, Formula] = {}
    for name in metrics:  # metrics without transforms first: each its own component
        if not transformed(expanded[name]):
            formulas[name] = Part(component(expanded[name], name, name))
    for name in metrics:
        if name not in formulas:
            formulas[name] = lower(expanded[name], name)
    out = [LoweredMetric(name=name, formula=formulas[name]) for name in metrics]
    scan_start = start
    if start is not None:
        scan_start = min((s.before(start) for s in shifts), default=start)
    return tuple(out), SeriesPlan(tuple(components.values()), tuple(shifts), start), scan_start


def _aggregates(expr: ir.Expr) -> bool:
    return any(isinstance(n, (ir.Aggregate, ir.Conversion)) for n in ir.walk(expr))


def _shifted(part: str, k: int) -> str:
    if SHIFTED in part:
        raise InternalError(f"an offset of an offset (`{part}`)", "MS452")
    return f"{part}{SHIFTED}{k}"


def split_part(name: str) -> tuple[str, int | None]:
    """A formula part's component and shift index (None: the period itself).

    >>> split_part("wow__c1@0"), split_part("wow__c2")
    (('wow__c1', 0), ('wow__c2', None))
    """
    component, _, k = name.partition(SHIFTED)
    return component, int(k) if k else None


def _check_grain(shift: Shift, grain_seconds: int | None, grain_months: int | None,
                 grain: str, owner: str) -> None:
    """An offset is a whole number of periods: fixed lengths at fixed grains, calendar months
    at grains that divide a month (hours, days) or at month, quarter and year grains."""
    if shift.seconds is not None and grain_seconds and shift.seconds % grain_seconds == 0:
        return
    if shift.months is not None and (
            (grain_seconds is not None and 86400 % grain_seconds == 0)
            or (grain_months is not None and shift.months % grain_months == 0)):
        return
    raise PlanError(f"`{owner}` is offset by {shift}, which is not a whole number of "
                    f"{grain} periods; pick a grain that divides it")
