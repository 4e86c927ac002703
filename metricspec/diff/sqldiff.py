"""The SQL diff of the objects a spec change affects: each compiled on both sides through the
pipeline, compared as a unified diff (the header line naming the spec files is left out, so
two checkouts in different folders compare equal)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from metricspec.backends import Backend
from metricspec.diff.compare import SpecDiff
from metricspec.semantic import Index

COMPILABLE = ("metric", "kpi", "guardrail", "experiment", "monitor")


@dataclass(frozen=True)
class SqlChange:
    kind: str
    name: str
    dialect: str
    diff: str  # unified diff text, empty when the SQL is the same


def _sql(index: Index, name: str, backend: Backend) -> str:
    from metricspec import pipeline

    try:
        text = pipeline.compile(index, name, backend).sql
    except pipeline.CompileError as exc:
        return f"-- cannot compile: {exc.reason}\n"
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith("-- from: "))


def sql_changes(diff: SpecDiff, base: Index, head: Index,
                backend: Backend) -> list[SqlChange]:
    """For every affected, added or removed compilable object, its SQL before and after."""
    names = [(i.kind, i.name) for i in diff.impact]
    names += [(e.kind, e.name) for e in diff.removed + diff.added]
    found: list[SqlChange] = []
    for kind, name in names:
        if kind not in COMPILABLE:
            continue
        old = _sql(base, name, backend) if base.find(name) else ""
        new = _sql(head, name, backend) if head.find(name) else ""
        lines = difflib.unified_diff(old.splitlines(keepends=True),
                                     new.splitlines(keepends=True),
                                     f"base/{kind}/{name}.sql", f"head/{kind}/{name}.sql", n=2)
        found.append(SqlChange(kind, name, backend.name, "".join(lines)))
    return found
