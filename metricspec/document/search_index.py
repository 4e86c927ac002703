"""The docs site's search: an index of every object (name, label, kind, owner, tags,
description) embedded in the index page as JSON, and a small inline script that filters it
as one types. The JSON sits in a `<script type="application/json">` element, so `<`, `>` and
`&` are written as JSON escapes: spec text can never close the element or start markup; the
script shows results with `textContent`, never as HTML."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup

from metricspec.outputs import file_name
from metricspec.safetext import printable
from metricspec.semantic import Index

_FOLDERS = {"metric": "metrics", "kpi": "kpis", "experiment": "experiments"}


def entries(index: Index) -> list[dict[str, Any]]:
    """One entry per metric, KPI tree, experiment, monitor and guardrail, in name order."""
    project = index.project
    found: list[dict[str, Any]] = []
    for kind, objects in (("metric", project.metrics), ("kpi", project.kpis),
                          ("experiment", project.experiments),
                          ("monitor", project.monitors), ("guardrail", project.guardrails)):
        for obj in objects:
            folder = _FOLDERS.get(kind)
            words = [obj.name, getattr(obj, "label", None) or "", kind,
                     getattr(obj, "owner", None) or "", " ".join(getattr(obj, "tags", ()) or ()),
                     getattr(obj, "description", None) or ""]
            found.append({"name": obj.name,
                          "label": printable(getattr(obj, "label", None) or obj.name),
                          "kind": kind,
                          "url": f"{folder}/{file_name(obj.name, '.html')}" if folder
                          else "index.html#watchers",
                          "text": printable(" ".join(w for w in words if w).lower())})
    return sorted(found, key=lambda e: (e["name"], e["kind"]))


def index_json(index: Index) -> Markup:
    """The index as JSON safe inside a `<script type="application/json">` element."""
    text = json.dumps(entries(index), ensure_ascii=True, sort_keys=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # escaped for the element above (JSON escapes), not as HTML text
