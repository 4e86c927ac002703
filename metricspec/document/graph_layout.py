"""A layered (Sugiyama) layout of any directed graph whose nodes are boxes of known size,
from grandalf: KPI trees today, the entity graph of sources and joins tomorrow.

grandalf ranks the nodes into layers (breaking cycles), orders each layer to reduce edge
crossings and places each node (Brandes–Köpf). Long edges pass through dummy nodes, whose
positions become the edge's bends. A final pass here makes the result safe to draw whatever
the box sizes: within a layer, boxes are pushed apart to at least `gap_x`; layers are stacked
by their tallest box plus `gap_y`; the drawing is shifted so every box lies inside a canvas
of the returned size (with `margin` on each side). `text_box` sizes a box from its lines of
text with a deliberately wide estimate of each character, so no text is clipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

# Widths of characters in ems for a sans-serif face, rounded up (so estimates err wide).
_NARROW = set("iljtfrI.,:;!|'() ")
_WIDE = set("MWmw@%#&")


def text_width(text: str, font_px: float = 12.0) -> float:
    """An upper estimate of the rendered width of `text` in pixels."""
    ems = 0.0
    for ch in text:
        if ch in _NARROW:
            ems += 0.36
        elif ch in _WIDE or ord(ch) > 0x2E80:  # wide Latin letters, CJK and emoji
            ems += 1.0
        elif ch.isupper() or ch.isdigit():
            ems += 0.7
        else:
            ems += 0.6
    return ems * font_px


def text_box(lines: Sequence[tuple[str, float]], pad_x: float = 10.0, pad_y: float = 8.0,
             line_gap: float = 4.0) -> tuple[float, float]:
    """(width, height) of a box holding these (text, font size in px) lines."""
    width = max((text_width(t, px) for t, px in lines), default=0.0)
    height = sum(px for _, px in lines) + line_gap * max(0, len(lines) - 1)
    return width + 2 * pad_x, height + 2 * pad_y


@dataclass(frozen=True)
class Box:
    """A placed node: its top-left corner and size."""

    id: str
    x: float
    y: float
    width: float
    height: float
    layer: int

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2


@dataclass(frozen=True)
class Route:
    """An edge from `source` to `target`, with the bends it passes through."""

    source: str
    target: str
    bends: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    routes: tuple[Route, ...]
    width: float
    height: float


class _View:
    """What grandalf reads (w, h) and writes (xy) on each vertex."""

    def __init__(self, w: float, h: float) -> None:
        self.w, self.h = w, h
        self.xy = (0.0, 0.0)


class _EdgeView:
    def setpath(self, points: list[tuple[float, float]]) -> None:  # grandalf's routing hook
        self.points = points


def layered(sizes: dict[str, tuple[float, float]], edges: Sequence[tuple[str, str]], *,
            gap_x: float = 24.0, gap_y: float = 56.0, margin: float = 16.0) -> Layout:
    """Lay out nodes (id → (width, height)) and edges (source above target), top to bottom.
    Nodes with no edge are placed too; self-loops and edges naming unknown nodes are
    ignored; repeated edges are drawn once."""
    from grandalf.graphs import Edge, Vertex, graph_core

    vertices = {name: Vertex(name) for name in sizes}
    for name, vertex in vertices.items():
        vertex.view = _View(*sizes[name])
    seen: set[tuple[str, str]] = set()
    graph_edges = []
    for a, b in edges:
        if a == b or a not in vertices or b not in vertices or (a, b) in seen:
            continue
        seen.add((a, b))
        edge = Edge(vertices[a], vertices[b])
        edge.view = _EdgeView()
        graph_edges.append(edge)
    # Connected components, built here rather than by grandalf's `Graph`, which collects each
    # component's edges in a `set` and so lays a graph out differently from one process to
    # the next; here nodes and edges keep the order they were given, and so does the picture.
    group = {name: name for name in vertices}

    def find(name: str) -> str:
        while group[name] != name:
            group[name] = group[group[name]]
            name = group[name]
        return name

    for a, b in seen_order(graph_edges):
        group[find(b)] = find(a)
    members: dict[str, list[str]] = {}
    for name in vertices:  # in the order given: components ordered by their first node
        members.setdefault(find(name), []).append(name)
    components = []
    for names in members.values():
        inside = set(names)
        component_edges = [e for e in graph_edges if e.v[0].data in inside]
        component = graph_core([vertices[n] for n in names], component_edges)
        components.append(component)
    boxes: dict[str, Box] = {}
    routes: list[Route] = []
    offset = margin
    height = 0.0
    for component in components:
        placed, bends, right, bottom = _place(component, gap_x, gap_y, offset, margin)
        boxes.update(placed)
        routes.extend(bends)
        offset = right + gap_x * 2
        height = max(height, bottom)
    width = max((b.x + b.width for b in boxes.values()), default=0.0) + margin
    return Layout(boxes, tuple(routes), width, height + margin)


def seen_order(edges: Sequence[Any]) -> list[tuple[str, str]]:
    """The (source, target) names of grandalf edges, in order."""
    return [(e.v[0].data, e.v[1].data) for e in edges]


def _place(component, gap_x: float, gap_y: float, left: float, top: float,  # type: ignore[no-untyped-def]
           ) -> tuple[dict[str, Box], list[Route], float, float]:
    from grandalf.layouts import SugiyamaLayout

    layout = SugiyamaLayout(component)
    layout.xspace, layout.yspace = gap_x, gap_y
    roots = [v for v in component.sV if not v.e_in()]
    layout.init_all(roots=roots or None)
    layout.draw()
    # the final pass: no overlap within a layer, layers stacked by their tallest box
    xs: dict[Any, float] = {}
    ys: dict[Any, float] = {}
    y = top
    for layer in layout.layers:
        items = sorted(layer, key=lambda v: v.view.xy[0])
        previous_right = None
        for v in items:
            x = v.view.xy[0] - v.view.w / 2
            if previous_right is not None:
                x = max(x, previous_right + gap_x)
            xs[v] = x
            previous_right = x + v.view.w
        tallest = max(v.view.h for v in layer)
        for v in layer:
            ys[v] = y + (tallest - v.view.h) / 2
        y += tallest + gap_y
    shift = left - min(xs.values())
    boxes = {}
    for v, x in xs.items():
        if hasattr(v, "data"):
            rank = layout.grx[v].rank
            boxes[v.data] = Box(v.data, x + shift, ys[v], v.view.w, v.view.h, rank)
    routes = []
    for edge in component.sE:
        source, target = edge.v
        dummies = layout.ctrls.get(edge, {})
        bends = tuple((xs[d] + shift + d.view.w / 2, ys[d] + d.view.h / 2)
                      for _, d in sorted(dummies.items()) if d in xs and not hasattr(d, "data"))
        if layout.grx[source].rank > layout.grx[target].rank:  # a reversed (cycle) edge
            bends = tuple(reversed(bends))
        routes.append(Route(source.data, target.data, bends))
    right = max(x + shift + v.view.w for v, x in xs.items())
    return boxes, routes, right, y - gap_y


def curve(points: Sequence[tuple[float, float]]) -> str:
    """An SVG path through `points` (a box's edge, the layout's bends, the next box's edge):
    a vertical S-curve between each pair, so edges leave and enter boxes straight."""
    path = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
    for (x0, y0), (x1, y1) in pairwise(points):
        mid = (y0 + y1) / 2
        path += f" C{x0:.1f},{mid:.1f} {x1:.1f},{mid:.1f} {x1:.1f},{y1:.1f}"
    return path
