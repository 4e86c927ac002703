"""Metric blocks: the expression and its metadata (unit, format, direction, tags, baseline)."""

from __future__ import annotations

from typing import Any

from lark import Token
from lark.tree import Meta

from metricspec import ir
from metricspec.parse.build_base import BuilderBase, Item


class MetricRules(BuilderBase):
    """The rules of these blocks that the `SETTINGS` table does not read."""

    def metric(self, meta: Meta, children: list[Any]) -> ir.Metric:
        name, rest = children[0], children[1:]
        items: list[Item] = []
        expr = None
        for child in rest:
            if isinstance(child, Item):
                items.append(child)
            elif isinstance(child, list):
                items.extend(i for i in child if isinstance(i, Item))
            elif child is not None:
                expr = child
        settings = self._settings(items, "metric")
        return ir.Metric(
            span=self.span_of(name), name=str(name), expr=expr,
            label=settings.get("label"), description=settings.get("description"),
            owner=settings.get("owner"), unit=settings.get("unit"),
            format=settings.get("format"), direction=settings.get("direction"),
            tags=settings.get("tags", ()), baseline=settings.get("baseline"),
            version=settings.get("version", 1), prior=settings.get("prior"),
            setting_spans=self._setting_spans(items),
        )

    def meta_block(self, meta: Meta, children: list[Any]) -> list[Any]:
        return [c for c in children if c is not None]

    def meta_item(self, meta: Meta, children: list[Any]) -> None:
        return None

    def unit_expr(self, meta: Meta, children: list[str]) -> str:
        return "".join(children)

    def unit_factor(self, meta: Meta, children: list[Token]) -> str:
        return str(children[0])

    def unit_op(self, meta: Meta, children: list[Token]) -> str:
        return str(children[0])

    def tags(self, meta: Meta, children: list[Any]) -> Item:
        return Item("tags", tuple(r.name for r in children[0]), self.span_of(meta))

    def baseline(self, meta: Meta, children: list[Any]) -> Item:
        sd = self._number(children[1]) if len(children) > 1 else None
        value = ir.Baseline(span=self.span_of(meta), mean=children[0], sd=sd)
        return Item("baseline", value, self.span_of(meta))

    def prior(self, meta: Meta, children: list[Any]) -> Item:
        """`prior mean M sd S`, in a metric or an experiment (a prior on the relative lift)."""
        value = ir.Prior(span=self.span_of(meta), mean=children[0],
                         sd=self._number(children[1]))
        return Item("prior", value, self.span_of(meta))
