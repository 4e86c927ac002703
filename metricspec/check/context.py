"""What every check rule receives: the project, its index, and what failed to parse."""

from __future__ import annotations

from dataclasses import dataclass, field

from metricspec import ir
from metricspec.backends import Backend
from metricspec.semantic import Index


@dataclass
class Context:
    project: ir.Project
    index: Index
    broken: set[tuple[str, str]] = field(default_factory=set)
    backends: tuple[Backend, ...] = ()
    # Metrics too deep to inline (MS304): rules that expand metrics skip them.
    too_deep: frozenset[str] = frozenset()
