"""KPI trees (edges, compositions, drivers) and guardrails."""

from __future__ import annotations

from typing import Any

from lark import Token
from lark.tree import Meta

from metricspec import ir
from metricspec.parse.build_base import BuilderBase, Item


class KpiRules(BuilderBase):
    """The rules of these blocks that the `SETTINGS` table does not read."""

    def kpi(self, meta: Meta, children: list[Any]) -> ir.Kpi:
        name = children[0]
        items = [c for c in children[1:] if c is not None]
        settings = self._settings([i for i in items if isinstance(i, Item)], "KPI tree")
        edges = tuple(i for i in items if isinstance(i, ir.KpiEdge))
        return ir.Kpi(span=self.span_of(name), name=str(name), label=settings.get("label"),
                      description=settings.get("description"), owner=settings.get("owner"),
                      north_star=settings.get("north_star"), edges=edges)

    def kpi_item(self, meta: Meta, children: list[Any]) -> Any:
        return children[0] if children else None

    def kpi_edge(self, meta: Meta, children: list[Any]) -> ir.KpiEdge:
        composition, drivers = children[1]
        return ir.KpiEdge(span=self.span_of(meta), parent=self._ref(children[0]),
                          composition=composition, drivers=tuple(drivers))

    def composition(self, meta: Meta, children: list[Any]) -> tuple[str, list[ir.Driver]]:
        return str(children[0]), children[1:]

    def influence(self, meta: Meta, children: list[ir.Driver]) -> tuple[str, list[ir.Driver]]:
        return "drivers", children

    def driver(self, meta: Meta, children: list[Any]) -> ir.Driver:
        weight = children[1].value if len(children) > 1 else None
        return ir.Driver(span=self.span_of(meta), metric=self._ref(children[0]), weight=weight)

    def guardrail(self, meta: Meta, children: list[Any]) -> ir.Guardrail:
        name = children[0]
        rest = [c for c in children[1:] if c is not None]
        label = next((c.value for c in rest if isinstance(c, Item)), None)
        tokens = [c for c in rest if isinstance(c, Token)]
        amount = next(c for c in rest if isinstance(c, ir.Amount))
        every = next((c for c in rest if isinstance(c, ir.Duration)), None)
        block = next((c for c in rest if isinstance(c, list)), [])
        settings = self._settings(block, "guardrail")
        return ir.Guardrail(
            span=self.span_of(name), name=str(name), metric=self._ref(tokens[0]),
            comparator=str(tokens[1]), threshold=amount, every=every,
            label=settings.get("label", label), description=settings.get("description"),
            owner=settings.get("owner"))

    def guardrail_every(self, meta: Meta, children: list[ir.Duration]) -> ir.Duration:
        return children[0]
