"""The entity graph on the docs site's sources page: every source that joins another is a box,
every many-to-one join an arrow labelled with its key, nothing outside the drawing, hostile
names escaped; a project without joins draws nothing."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from metricspec.document.entity_svg import entity_graph_svg
from metricspec.entity_graph import EntityGraph
from metricspec.workspace import Workspace

SVG = "{http://www.w3.org/2000/svg}"
REPO = Path(__file__).resolve().parents[2]


def _boxes(root: ET.Element) -> dict[str, tuple[float, float, float, float]]:
    out = {}
    for node in root.iter(f"{SVG}g"):
        rect = node.find(f"{SVG}rect")
        assert rect is not None
        out[node.attrib["data-source"]] = tuple(float(rect.attrib[k])
                                                for k in ("x", "y", "width", "height"))
    return out


def test_the_example_specs_graph() -> None:
    ws = Workspace.load(REPO / "specs")
    data = EntityGraph(ws.index.sources).data()
    svg = entity_graph_svg(data)
    root = ET.fromstring(svg)
    width, height = (float(v) for v in root.attrib["viewBox"].split()[2:])
    boxes = _boxes(root)
    joined = {e["from"] for e in data["edges"]} | {e["to"] for e in data["edges"]}
    assert set(boxes) == joined and len(joined) >= 4
    for x, y, w, h in boxes.values():
        assert x >= 0 and x + w <= width and y >= 0 and y + h <= height
    paths = [(p.attrib["data-from"], p.attrib["data-to"]) for p in root.iter(f"{SVG}path")
             if "data-from" in p.attrib]
    assert sorted(set(paths)) == sorted({(e["from"], e["to"]) for e in data["edges"]})
    for many, one in paths:  # the table with many rows per key sits above the one it reaches
        assert boxes[many][1] < boxes[one][1]
    labels = {t.text for t in root.iter(f"{SVG}text") if t.attrib.get("class") == "key"}
    assert {e["key"] for e in data["edges"]} <= {k for label in labels for k in
                                                 re.split(r", ", label or "")}


def test_hostile_names_are_escaped_and_no_joins_draw_nothing() -> None:
    hostile = "<script>alert(1)</script>\x1b[31m"
    data = {"entities": [{"source": hostile, "primary": [], "dimensions": []},
                         {"source": "users", "primary": ["user_id"], "dimensions": ["plan"]}],
            "edges": [{"from": hostile, "key": "user_id", "to": "users"}]}
    svg = entity_graph_svg(data)
    assert "<script>" not in svg and "\x1b" not in svg
    ET.fromstring(svg)  # well-formed
    assert entity_graph_svg({"entities": data["entities"], "edges": []}) == ""
