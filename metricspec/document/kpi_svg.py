"""KPI trees drawn as SVG: the north star on top, drivers below, each edge labelled with how
the drivers compose into their parent (sum, product, ratio, weighted, drivers). Boxes are
sized from their text and placed by a layered graph layout (`graph_layout`), so no box is
cut off and none overlaps another, whatever the names. With numbers (`NodeFigures`), each
box also shows the metric's value and its change, coloured by the metric's desired
direction (green when it moved the way it should, red when not)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from metricspec import ir
from metricspec.document.graph_layout import curve, layered, text_box, text_width
from metricspec.safetext import printable

_ARROW = {"ratio": "÷", "product": "×", "sum": "+", "weighted": "Σw", "drivers": "~"}
LABEL_PX, NAME_PX, PAD_X, PAD_Y, LINE_GAP = 12.0, 11.0, 10.0, 8.0, 4.0
TONES = {"good": "#15803d", "bad": "#b91c1c", "neutral": "#475569"}


@dataclass(frozen=True)
class NodeFigures:
    """A node's numbers as shown: its value, its change against the comparison period, and
    whether that change is good, bad or neutral for the metric's direction."""

    value: str
    change: str
    tone: str = "neutral"


def _lines(label: str, name: str, figures: NodeFigures | None) -> list[tuple[str, float]]:
    lines = [(printable(label), LABEL_PX), (name, NAME_PX)]  # control characters shown
    if figures is not None:
        lines.append((printable(f"{figures.value}  {figures.change}"), LABEL_PX))
    return lines


def kpi_svg(kpi: ir.Kpi, labels: dict[str, str], link: str = "metrics/{}.html",
            figures: dict[str, NodeFigures] | None = None) -> str:
    """The tree as a standalone SVG; each box links to the metric's page."""
    figures = figures or {}
    names = kpi.metric_names()
    edges = [(edge.parent.name, d.metric.name) for edge in kpi.edges for d in edge.drivers]
    lines = {n: _lines(labels.get(n, n), n, figures.get(n)) for n in names}
    sizes = {n: text_box(lines[n], PAD_X, PAD_Y, LINE_GAP) for n in names}
    # room under each parent for its composition label, between layers
    op_width = max((text_width(f"{_ARROW.get(e.composition, '?')} {e.composition}", LABEL_PX)
                    for e in kpi.edges), default=0.0)
    layout = layered(sizes, edges, gap_x=28.0, gap_y=64.0, margin=20.0 + op_width / 4)
    width, height = layout.width, layout.height
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="kpi-tree" viewBox="0 0 {width:.0f} '
        f'{height:.0f}" width="{width:.0f}" height="{height:.0f}" role="img" '
        'style="max-width:100%;height:auto" '
        f'aria-label="KPI tree {escape(kpi.name)}">',
        "<style>.box{fill:#f8fafc;stroke:#334155}.star{fill:#eff6ff;stroke:#1d4ed8;"
        "stroke-width:2}text{font-family:system-ui,sans-serif;fill:#0f172a}.op{fill:#1d4ed8;"
        "font-weight:700}.edge{stroke:#64748b;fill:none}.influence{stroke-dasharray:4 3}"
        ".name{fill:#64748b}</style>",
    ]
    boxes = layout.boxes
    composition = {(e.parent.name, d.metric.name): (e.composition, d.weight)
                   for e in kpi.edges for d in e.drivers}
    for route in layout.routes:
        parent, child = boxes[route.source], boxes[route.target]
        kind, weight = composition.get((route.source, route.target), ("drivers", None))
        points = [(parent.x + parent.width / 2, parent.y + parent.height), *route.bends,
                  (child.x + child.width / 2, child.y)]
        path = curve(points)
        style = "edge influence" if kind == "drivers" else "edge"
        out.append(f'<path class="{style}" d="{path}"/>')
        if weight is not None:
            out.append(f'<text x="{child.x + child.width / 2 + 4:.1f}" y="{child.y - 6:.1f}" '
                       f'font-size="{NAME_PX:g}">w={weight:g}</text>')
    for edge in kpi.edges:
        parent = boxes[edge.parent.name]
        out.append(
            f'<text class="op" x="{parent.x + parent.width / 2 + 6:.1f}" '
            f'y="{parent.y + parent.height + 16:.1f}" font-size="{LABEL_PX:g}">'
            f"{escape(_ARROW.get(edge.composition, '?'))} {escape(edge.composition)}</text>")
    star = kpi.north_star.name if kpi.north_star else None
    for name, box in boxes.items():
        css = "box star" if name == star else "box"
        parts = [f'<a href="{escape(link.format(name))}"><g class="node" '
                 f'data-metric="{escape(name)}">',
                 f'<rect class="{css}" x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" '
                 f'height="{box.height:.1f}" rx="6"/>']
        y = box.y + PAD_Y
        for i, (text, px) in enumerate(lines[name]):
            y += px
            css_text = ' class="name"' if i == 1 else ""
            fill = ""
            if i == 2 and name in figures:
                fill = f' fill="{TONES.get(figures[name].tone, TONES["neutral"])}"'
                css_text = ' class="figures"'
            parts.append(f'<text{css_text}{fill} x="{box.x + PAD_X:.1f}" y="{y - 2:.1f}" '
                         f'font-size="{px:g}">{escape(text)}</text>')
            y += LINE_GAP
        parts.append("</g></a>")
        out.append("".join(parts))
    out.append("</svg>")
    return "\n".join(out)
