"""What every check rule receives: the project, its index, and what failed to parse."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from metricspec import ir
from metricspec.backends import Backend
from metricspec.entity_graph import EntityGraph
from metricspec.lockfile import Lock
from metricspec.semantic import Index


@dataclass
class Context:
    project: ir.Project
    index: Index
    broken: set[tuple[str, str]] = field(default_factory=set)
    backends: tuple[Backend, ...] = ()
    # Metrics too deep to inline (MS304): rules that expand metrics skip them.
    too_deep: frozenset[str] = frozenset()
    # The project's metricspec.lock (None without one), or why it could not be read (file,
    # message), and the day experiments are judged running against (default: today).
    lock: Lock | None = None
    lock_error: tuple[str, str] | None = None
    today: dt.date | None = None
    # Worked out once per check and shared by the rules: `expand` and `walk` of each
    # expression asked about, by identity (the expression is kept, so its id is not reused),
    # and the join graph between sources.
    _expanded: dict[int, tuple[ir.Expr, ir.Expr]] = field(default_factory=dict, repr=False)
    _graph: EntityGraph | None = field(default=None, repr=False)
    _walks: dict[int, tuple[ir.Expr, tuple[ir.Expr, ...]]] = field(default_factory=dict,
                                                                   repr=False)

    @property
    def graph(self) -> EntityGraph:
        """The joins between the project's sources, built once per check (it is read per
        experiment and per monitor, and building it reads every source)."""
        if self._graph is None:
            self._graph = EntityGraph(self.index.sources)
        return self._graph

    def walk(self, expr: ir.Expr) -> tuple[ir.Expr, ...]:
        """`ir.walk(expr)`, computed once per expression (rules walk each metric, and each
        inlined metric, many times), kept by identity like `expand`."""
        known = self._walks.get(id(expr))
        if known is not None and known[0] is expr:
            return known[1]
        nodes = tuple(ir.walk(expr))
        self._walks[id(expr)] = (expr, nodes)
        return nodes

    def expand(self, expr: ir.Expr) -> ir.Expr:
        """`index.expand(expr)`, computed once per expression of the project."""
        known = self._expanded.get(id(expr))
        if known is not None and known[0] is expr:
            return known[1]
        expanded = self.index.expand(expr)
        self._expanded[id(expr)] = (expr, expanded)
        return expanded
