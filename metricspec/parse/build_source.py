"""Source blocks: table or query, entities, time, dimensions, columns."""

from __future__ import annotations

from typing import Any

from lark import Token
from lark.tree import Meta

from metricspec import ir
from metricspec.parse.build_base import Item, flat, string_value
from metricspec.parse.build_expr import ExprRules


class SourceRules(ExprRules):
    """The rules of these blocks that the `SETTINGS` table does not read."""

    def source(self, meta: Meta, children: list[Any]) -> ir.Source:
        name = children[0]
        items = [c for c in children[1:] if c is not None]
        settings = self._settings([i for i in items if isinstance(i, Item)], "source")
        zone = next((i.value_span for i in items if isinstance(i, Item) and i.key == "timezone"),
                    None)
        origin = next(c for c in items if isinstance(c, tuple))
        validity = settings.get("validity")
        return ir.Source(
            span=self.span_of(name), name=str(name),
            label=settings.get("label"), description=settings.get("description"),
            owner=settings.get("owner"),
            table=origin[1] if origin[0] == "table" else None,
            query=origin[1] if origin[0] == "query" else None,
            entities=flat(settings.get("entities", [])), time=settings.get("time"),
            dimensions=flat(settings.get("dimensions", [])),
            columns=flat(settings.get("columns", [])),
            derived=flat(settings.get("derived", [])),
            valid_from=validity[0] if validity else None,
            valid_to=validity[1] if validity else None,
            timezone=settings.get("timezone"), timezone_span=zone,
        )

    def table_origin(self, meta: Meta, children: list[Any]) -> tuple[str, tuple[str, ...]]:
        return ("table", children[0])

    def query_origin(self, meta: Meta, children: list[Token]) -> tuple[str, str]:
        return ("query", string_value(children[0]))

    def qualified_name(self, meta: Meta, children: list[Token]) -> tuple[str, ...]:
        return tuple(str(t) for t in children)

    def source_item(self, meta: Meta, children: list[Any]) -> None:
        return None

    def column_list(self, meta: Meta, children: list[ir.Column]) -> tuple[ir.Column, ...]:
        return tuple(children)

    def column_decl(self, meta: Meta, children: list[Token]) -> ir.Column:
        type_ = str(children[1]).lower() if len(children) > 1 else None
        type_span = self.span_of(children[1]) if len(children) > 1 else None
        return ir.Column(span=self.span_of(children[0]), name=str(children[0]), type=type_,
                         type_span=type_span)

    def entity_list(self, meta: Meta, children: list[ir.Column]) -> tuple[ir.Column, ...]:
        return tuple(children)

    def entity_decl(self, meta: Meta, children: list[Any]) -> ir.Column:
        role = next((c for c in children if c in ("primary", "foreign")
                     and not isinstance(c, Token)), None)
        tokens = [c for c in children if isinstance(c, Token)]
        column = self.column_decl(meta, tokens)
        return column.model_copy(update={"role": role}) if role else column

    def primary_role(self, meta: Meta, children: list[Any]) -> str:
        return "primary"

    def foreign_role(self, meta: Meta, children: list[Any]) -> str:
        return "foreign"

    def derived_dimension(self, meta: Meta, children: list[Any]) -> Item:
        name = children[0]
        value = ir.DerivedDimension(span=self.span_of(name), name=str(name),
                                    expr=self._filter(children[1]))
        return Item("derived", (value,), self.span_of(meta))

    def validity(self, meta: Meta, children: list[Token]) -> Item:
        columns = tuple(ir.Column(span=self.span_of(t), name=str(t), type="timestamp")
                        for t in children)
        return Item("validity", columns, self.span_of(meta))
