"""The base of every IR node: frozen pydantic models that carry their source span."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Span(BaseModel):
    """Where a node came from: file, 1-based line and column, and where it ends."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def unknown(cls, file: str = "<unknown>") -> Span:
        """A span for nodes built in code rather than read from a file."""
        return cls(file=file, line=0, column=0, end_line=0, end_column=0)

    @classmethod
    def point(cls, file: str, line: int, column: int, width: int = 1) -> Span:
        """A span on one line starting at `column`, `width` characters wide."""
        return cls(file=file, line=line, column=column, end_line=line, end_column=column + width)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class Node(BaseModel):
    """A frozen IR node. Unknown fields are errors; every node knows its span."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    span: Span


class HasSettings(Node):
    """A node with scalar settings (`alpha 0.05`, `format percent`) that remembers where
    each was written, so a diagnostic about a setting points at it, not at the object."""

    setting_spans: tuple[tuple[str, Span], ...] = ()

    def setting_span(self, key: str) -> Span:
        """Where setting `key` was written; the object's own span if it was not."""
        for name, span in self.setting_spans:
            if name == key:
                return span
        return self.span


def _is_span_key(key: str) -> bool:
    return key == "span" or key.endswith(("_span", "_spans"))


def strip_spans(value: Any) -> Any:
    """Return a node's data with every span removed, to compare IR from different files.

    Spans are the fields named `span`, `*_span` and `*_spans`.

    >>> strip_spans({"span": 1, "name": "csat", "items": [{"span": 2, "x": 1}]})
    {'name': 'csat', 'items': [{'x': 1}]}
    """
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        return {k: strip_spans(v) for k, v in value.items() if not _is_span_key(k)}
    if isinstance(value, (list, tuple)):
        return [strip_spans(v) for v in value]
    return value
