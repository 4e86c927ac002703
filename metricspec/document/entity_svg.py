"""The entity graph drawn as SVG for the docs site: each source a box (its name, its primary
key, how many dimensions it offers), each many-to-one join an arrow from the table holding
many rows per key down to the table holding one, labelled with the key. Laid out by the same
layered layout as the KPI trees (`graph_layout`), so fact tables sit above the dimension
tables they reach and no box is clipped, whatever the names.

The input is `EntityGraph.data()`: plain data, so this module knows nothing of how paths are
resolved."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from metricspec.document.graph_layout import curve, layered, text_box
from metricspec.safetext import printable

NAME_PX, DETAIL_PX, PAD_X, PAD_Y, LINE_GAP = 13.0, 11.0, 10.0, 8.0, 4.0


def _attr(text: str) -> str:
    """An attribute value: control characters made visible, then escaped."""
    return escape(printable(text))


def _lines(entity: Mapping[str, Any]) -> list[tuple[str, float]]:
    keys = ", ".join(entity.get("primary") or ()) or "no primary key"
    dims = len(entity.get("dimensions") or ())
    detail = f"key {keys} · {dims} dimension{'s' if dims != 1 else ''}"
    if entity.get("slowly_changing"):
        detail += " · as of event"
    return [(printable(str(entity["source"])), NAME_PX), (printable(detail), DETAIL_PX)]


def entity_graph_svg(data: Mapping[str, Any],
                     link: str = "#{}") -> str:
    """The graph as a standalone SVG, or "" when no source joins another."""
    edges = [(str(e["from"]), str(e["to"]), str(e["key"])) for e in data.get("edges", ())]
    if not edges:
        return ""
    joined = {name for a, b, _ in edges for name in (a, b)}
    entities = {str(e["source"]): e for e in data.get("entities", ()) if e["source"] in joined}
    lines = {name: _lines(entity) for name, entity in entities.items()}
    sizes = {name: text_box(lines[name], PAD_X, PAD_Y, LINE_GAP) for name in entities}
    layout = layered(sizes, [(a, b) for a, b, _ in edges], gap_x=32.0, gap_y=56.0,
                     margin=20.0)
    keys: dict[tuple[str, str], list[str]] = {}
    for a, b, key in edges:
        keys.setdefault((a, b), []).append(key)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="entity-graph" viewBox="0 0 '
        f'{layout.width:.0f} {layout.height:.0f}" width="{layout.width:.0f}" '
        f'height="{layout.height:.0f}" role="img" style="max-width:100%;height:auto" '
        'aria-label="Entity graph: many-to-one joins between sources">',
        "<style>.box{fill:#f8fafc;stroke:#334155}text{font-family:system-ui,sans-serif;"
        "fill:#0f172a}.detail{fill:#475569}.edge{stroke:#64748b;fill:none}"
        ".key{fill:#1d4ed8}</style>",
        '<defs><marker id="one" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#64748b"/>'
        "</marker></defs>",
    ]
    boxes = layout.boxes
    for route in layout.routes:
        many, one = boxes[route.source], boxes[route.target]
        points = [(many.x + many.width / 2, many.y + many.height), *route.bends,
                  (one.x + one.width / 2, one.y)]
        path = curve(points)
        label = ", ".join(keys.get((route.source, route.target), ()))
        out.append(f'<path class="edge" d="{path}" marker-end="url(#one)" '
                   f'data-from="{_attr(route.source)}" data-to="{_attr(route.target)}"/>')
        x, y = points[len(points) // 2] if len(points) > 2 else (
            (points[0][0] + points[-1][0]) / 2, (points[0][1] + points[-1][1]) / 2)
        out.append(f'<text class="key" x="{x + 4:.1f}" y="{y:.1f}" '
                   f'font-size="{DETAIL_PX:g}">{escape(printable(label))}</text>')
    for name, box in boxes.items():
        parts = [f'<a href="{_attr(link.format(name))}"><g class="node" '
                 f'data-source="{_attr(name)}">',
                 f'<rect class="box" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" '
                 f'height="{box.height:.1f}" rx="6"/>']
        y = box.y + PAD_Y
        for i, (text, px) in enumerate(lines[name]):
            y += px
            css = ' class="detail"' if i else ' font-weight="600"'
            parts.append(f'<text{css} x="{box.x + PAD_X:.1f}" y="{y - 2:.1f}" '
                         f'font-size="{px:g}">{escape(text)}</text>')
            y += LINE_GAP
        parts.append("</g></a>")
        out.append("".join(parts))
    out.append("</svg>")
    return "\n".join(out)
