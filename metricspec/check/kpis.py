"""KPI composition rules: do the drivers' units and directions fit how they compose into
their parent (MS406, MS407), and are weights and arity right (MS408, MS414)?"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, error, warning

Unit = Counter[str]


def parse_unit(text: str) -> Unit:
    """A unit as base units with exponents; `1` and empty are dimensionless.

    >>> dict(parse_unit("usd/query"))
    {'usd': 1, 'query': -1}
    >>> dict(parse_unit("1"))
    {}
    """
    unit: Unit = Counter()
    sign = 1
    token = ""
    for ch in text.replace(" ", "") + "*":
        if ch in "*/":
            if token and token != "1":
                unit[token] += sign
            token, sign = "", (1 if ch == "*" else -1)
        else:
            token += ch
    return Counter({k: v for k, v in unit.items() if v != 0})


def show_unit(unit: Unit) -> str:
    """Write a unit the way specs do.

    >>> show_unit(Counter({"usd": 1, "conversation": -1}))
    'usd/conversation'
    """
    top = [k if v == 1 else f"{k}^{v}" for k, v in sorted(unit.items()) if v > 0]
    bottom = [k if v == -1 else f"{k}^{-v}" for k, v in sorted(unit.items()) if v < 0]
    text = "*".join(top) or "1"
    return text + ("/" + "/".join(bottom) if bottom else "")


def metric_unit(metric: ir.Metric) -> Unit | None:
    """The declared unit; a percent without a unit is dimensionless; otherwise unknown."""
    if metric.unit is not None:
        return parse_unit(metric.unit)
    if metric.format == "percent":
        return Counter()
    return None


def rule_kpi_compositions(ctx: Context) -> Iterator[Diagnostic]:
    for kpi in ctx.project.kpis:
        for edge in kpi.edges:
            problems = list(_arity_and_weights(edge))
            yield from problems
            if any(p.code == "MS414" for p in problems):
                continue  # units and directions of a malformed composition mean nothing
            parent = ctx.index.metrics.get(edge.parent.name)
            drivers = [ctx.index.metrics.get(d.metric.name) for d in edge.drivers]
            if parent is None or any(d is None for d in drivers) or edge.composition == "drivers":
                continue
            known = [d for d in drivers if d is not None]
            yield from _units(edge, parent, known)
            yield from _directions(edge, parent, known)


def _arity_and_weights(edge: ir.KpiEdge) -> Iterator[Diagnostic]:
    n = len(edge.drivers)
    if edge.composition == "ratio" and n != 2:
        yield error("MS414", f"ratio(…) takes a numerator and a denominator, not {n} drivers",
                    edge.span)
    elif edge.composition in ("sum", "product", "weighted") and n < 2:
        yield error("MS414", f"{edge.composition}(…) needs at least two drivers", edge.span)
    if edge.composition == "weighted":
        for driver in edge.drivers:
            if driver.weight is None:
                yield error("MS408", f"`{driver.metric.name}` needs a weight in weighted(…)",
                            driver.span, f"write `{driver.metric.name}: 0.5`")
            elif driver.weight < 0:
                yield error("MS408", f"the weight of `{driver.metric.name}` is negative",
                            driver.span, "a driver that pulls its parent down belongs in a "
                            "ratio(…) or needs the opposite direction, not a negative weight")
    else:
        for driver in edge.drivers:
            if driver.weight is not None:
                yield warning("MS408", f"the weight of `{driver.metric.name}` is ignored in "
                              f"{edge.composition}(…)", driver.span, "use weighted(…)")


def _units(edge: ir.KpiEdge, parent: ir.Metric, drivers: list[ir.Metric]) -> Iterator[Diagnostic]:
    parent_unit = metric_unit(parent)
    units = [metric_unit(d) for d in drivers]
    if parent_unit is None or any(u is None for u in units):
        return
    known = [u for u in units if u is not None]
    if edge.composition in ("sum", "weighted"):
        for driver, unit, spec in zip(drivers, known, edge.drivers, strict=True):
            if unit != parent_unit:
                yield error("MS406", f"`{driver.name}` is in {show_unit(unit)} but "
                            f"`{parent.name}` is in {show_unit(parent_unit)}; a "
                            f"{edge.composition} needs the same unit", spec.span)
        return
    combined: Unit = Counter()
    for i, unit in enumerate(known):
        sign = -1 if edge.composition == "ratio" and i == 1 else 1
        for base, power in unit.items():
            combined[base] += sign * power
    combined = Counter({k: v for k, v in combined.items() if v != 0})
    if combined != parent_unit:
        yield error("MS406", f"{edge.composition}(…) of the drivers is in "
                    f"{show_unit(combined)} but `{parent.name}` is in "
                    f"{show_unit(parent_unit)}", edge.span,
                    "check the drivers' `unit` declarations")


def _directions(edge: ir.KpiEdge, parent: ir.Metric,
                drivers: list[ir.Metric]) -> Iterator[Diagnostic]:
    if parent.direction not in ("up", "down"):
        return
    flip = {"up": "down", "down": "up"}
    for i, (driver, spec) in enumerate(zip(drivers, edge.drivers, strict=True)):
        if driver.direction not in ("up", "down"):
            continue
        expected = parent.direction
        if edge.composition == "ratio" and i == 1:
            expected = flip[parent.direction]
        if driver.direction != expected:
            role = "denominator" if edge.composition == "ratio" and i == 1 else "driver"
            yield error("MS407", f"`{driver.name}` should go {expected} for "
                        f"`{parent.name}` to go {parent.direction}, but its direction is "
                        f"{driver.direction}", spec.span,
                        f"as the {role} of a {edge.composition}, its desired direction must be "
                        f"{expected}")
