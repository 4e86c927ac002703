"""KPI trees drawn as SVG: the north star on top, drivers below, each edge labelled with how
the drivers compose into their parent (sum, product, ratio, weighted, drivers)."""

from __future__ import annotations

from collections import defaultdict
from html import escape

from metricspec import ir

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 170, 44, 26, 70, 20
_ARROW = {"ratio": "÷", "product": "×", "sum": "+", "weighted": "Σw", "drivers": "~"}


def _levels(kpi: ir.Kpi) -> dict[str, int]:
    """Depth of each metric: the longest path from the north star (a DAG may share drivers)."""
    children: dict[str, list[str]] = defaultdict(list)
    for edge in kpi.edges:
        children[edge.parent.name].extend(d.metric.name for d in edge.drivers)
    root = (
        kpi.north_star.name if kpi.north_star else (kpi.edges[0].parent.name if kpi.edges else "")
    )
    depth: dict[str, int] = {root: 0}
    for _ in range(len(children) + 1):  # relax; cycles are stopped by the bound
        changed = False
        for parent, kids in list(children.items()):
            if parent not in depth:
                continue
            for kid in kids:
                if depth.get(kid, -1) < depth[parent] + 1 and depth[parent] + 1 <= 20:
                    depth[kid] = depth[parent] + 1
                    changed = True
        if not changed:
            break
    for edge in kpi.edges:  # disconnected parts go under the root
        depth.setdefault(edge.parent.name, 1)
        for d in edge.drivers:
            depth.setdefault(d.metric.name, depth[edge.parent.name] + 1)
    return depth


def kpi_svg(kpi: ir.Kpi, labels: dict[str, str], link: str = "metrics/{}.html") -> str:
    """The tree as a standalone SVG; each box links to the metric's page."""
    depth = _levels(kpi)
    rows: dict[int, list[str]] = defaultdict(list)
    for name, level in sorted(depth.items(), key=lambda item: (item[1], item[0])):
        rows[level].append(name)
    width = max(len(r) for r in rows.values()) * (BOX_W + GAP_X) - GAP_X + 2 * PAD
    height = (max(rows) + 1) * (BOX_H + GAP_Y) - GAP_Y + 2 * PAD
    parents: dict[str, list[str]] = defaultdict(list)
    for edge in kpi.edges:
        for d in edge.drivers:
            parents[d.metric.name].append(edge.parent.name)
    pos: dict[str, tuple[float, float]] = {}
    for level in sorted(rows):
        names = rows[level]
        if level:  # order by the mean position of the parents, to uncross the edges

            def key(name: str) -> tuple[float, str]:
                xs = [pos[p][0] for p in parents.get(name, []) if p in pos]
                return (sum(xs) / len(xs) if xs else float("inf"), name)

            names.sort(key=key)
        row_width = len(names) * (BOX_W + GAP_X) - GAP_X
        left = (width - row_width) / 2
        for i, name in enumerate(names):
            pos[name] = (left + i * (BOX_W + GAP_X), PAD + level * (BOX_H + GAP_Y))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="kpi-tree" viewBox="0 0 {width} '
        f'{height}" width="{width}" height="{height}" role="img" '
        f'aria-label="KPI tree {escape(kpi.name)}">',
        "<style>.box{fill:#f8fafc;stroke:#334155;rx:6}.star{fill:#eff6ff;stroke:#1d4ed8;"
        "stroke-width:2}text{font:12px system-ui,sans-serif;fill:#0f172a}.op{fill:#1d4ed8;"
        "font-weight:700}.edge{stroke:#64748b;fill:none}.influence{stroke-dasharray:4 3}"
        "</style>",
    ]
    for edge in kpi.edges:
        if edge.parent.name not in pos:
            continue
        px, py = pos[edge.parent.name]
        for driver in edge.drivers:
            if driver.metric.name not in pos:
                continue
            cx, cy = pos[driver.metric.name]
            style = "edge influence" if edge.composition == "drivers" else "edge"
            out.append(
                f'<path class="{style}" d="M{px + BOX_W / 2:.0f},{py + BOX_H} '
                f"C{px + BOX_W / 2:.0f},{py + BOX_H + GAP_Y / 2:.0f} "
                f'{cx + BOX_W / 2:.0f},{cy - GAP_Y / 2:.0f} {cx + BOX_W / 2:.0f},{cy}"/>'
            )
            if driver.weight is not None:
                out.append(
                    f'<text x="{cx + BOX_W / 2 + 4:.0f}" y="{cy - 6}">w={driver.weight:g}</text>'
                )
        out.append(
            f'<text class="op" x="{px + BOX_W / 2 + 6:.0f}" y="{py + BOX_H + 16}">'
            f"{escape(_ARROW.get(edge.composition, '?'))} {edge.composition}</text>"
        )
    star = kpi.north_star.name if kpi.north_star else None
    for name, (x, y) in pos.items():
        label = labels.get(name, name)
        short = label if len(label) <= 24 else label[:23] + "…"
        css = "box star" if name == star else "box"
        out.append(
            f'<a href="{escape(link.format(name))}"><rect class="{css}" x="{x:.0f}" '
            f'y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
            f'<text x="{x + 8:.0f}" y="{y + 18:.0f}">{escape(short)}</text>'
            f'<text x="{x + 8:.0f}" y="{y + 34:.0f}" fill="#64748b">{escape(name)}</text>'
            "</a>"
        )
    out.append("</svg>")
    return "\n".join(out)
