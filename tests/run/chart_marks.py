"""Counting the marks of a rendered chart: each named layer of a Vega-Lite chart is one
`<g class="mark-… role-mark NAME_marks">` group holding one element per mark."""

from __future__ import annotations

import re


def marks(svg: str, name: str) -> int:
    """The number of marks drawn by the layer `name` (0 when the layer is absent)."""
    total = 0
    for found in re.finditer(rf'<g class="mark-(\w+) role-mark {re.escape(name)}_marks"[^>]*>',
                             svg):
        kind = found.group(1)
        body = svg[found.end():]
        element = {"symbol": "path", "rule": "line", "rect": "path", "line": "path",
                   "area": "path", "text": "text"}[kind]
        depth, i, count = 1, 0, 0
        for tag in re.finditer(r"<(/?)(\w+)([^>]*?)(/?)>", body):
            closing, tag_name, _, selfclosing = tag.groups()
            if tag_name == "g":
                depth += -1 if closing else (0 if selfclosing else 1)
                if depth == 0:
                    break
            elif not closing and tag_name == element and depth == 1:
                count += 1
            i = tag.end()
        total += count
    return total
