"""Cycle rules: among derived metrics (MS301) and in KPI trees (MS302, MS303), and
metrics built on metrics too deeply to inline (MS304).

Each cycle is reported once, with its whole path (`a -> b -> c -> a`), at the reference that
closes it in the alphabetically first metric of the cycle.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, error, warning
from metricspec.semantic import Index

# How deep a metric's expression may be once the metrics it uses are inlined. Later stages
# recurse through that expression; real metric systems stay far below this.
MAX_DEPTH = 200


def find_cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Every elementary cycle reachable in `graph`, each once, rotated to start at its
    smallest node.

    >>> find_cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["d"]})
    [['a', 'b', 'c'], ['d']]
    """
    cycles: dict[tuple[str, ...], None] = {}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    path: list[str] = []
    for root in sorted(graph):
        if root in state:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(graph.get(root, ())))]
        state[root] = 1
        path.append(root)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                cycle = path[path.index(child):]
                start = cycle.index(min(cycle))
                cycles.setdefault(tuple(cycle[start:] + cycle[:start]))
            elif child not in state:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(graph.get(child, ()))))
    return [list(c) for c in sorted(cycles)]


def rule_metric_cycles(ctx: Context) -> Iterator[Diagnostic]:
    for cycle in find_cycles(ctx.index.metric_deps):
        first, second = cycle[0], cycle[1 % len(cycle)]
        metric = ctx.index.metrics[first]
        ref = next(r for r in ir.metric_refs(metric.expr) if r.name == second)
        path = " -> ".join([*cycle, cycle[0]])
        yield error("MS301", f"metrics depend on each other in a cycle: {path}", ref.span,
                    "a derived metric cannot use itself, even through others")


def rule_kpi_cycles(ctx: Context) -> Iterator[Diagnostic]:
    for kpi in ctx.project.kpis:
        graph: dict[str, list[str]] = {}
        spans: dict[tuple[str, str], ir.Span] = {}
        for edge in kpi.edges:
            children = graph.setdefault(edge.parent.name, [])
            for driver in edge.drivers:
                children.append(driver.metric.name)
                spans.setdefault((edge.parent.name, driver.metric.name), driver.span)
        for cycle in find_cycles(graph):
            second = cycle[1 % len(cycle)]
            path = " -> ".join([*cycle, cycle[0]])
            yield error("MS302", f"KPI tree `{kpi.name}` has a cycle: {path}",
                        spans[(cycle[0], second)], "a driver cannot be its own ancestor")
        if kpi.north_star is None:
            yield error("MS303", f"KPI tree `{kpi.name}` has no north star", kpi.span,
                        "add `north_star <metric>`")
            continue
        reachable = _reachable(graph, kpi.north_star.name)
        for edge in kpi.edges:
            if edge.parent.name not in reachable:
                yield warning("MS303", f"`{edge.parent.name}` is not under the north star "
                              f"`{kpi.north_star.name}` of `{kpi.name}`", edge.parent.span,
                              f"connect it with an edge from `{kpi.north_star.name}` or an "
                              "ancestor")


def _reachable(graph: Mapping[str, Sequence[str]], root: str) -> set[str]:
    seen = {root}
    todo = [root]
    while todo:
        for child in graph.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _shape(expr: ir.Expr) -> tuple[int, list[tuple[str, int]]]:
    """An expression's depth, and the depth at which each metric reference sits."""
    deepest, refs = 0, []
    stack: list[tuple[ir.Expr, int]] = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, ir.MetricRef):
            refs.append((node.name, depth))
        stack.extend((child, depth + 1) for child in ir.children(node))
    return deepest, refs


def expanded_depths(index: Index) -> dict[str, int]:
    """How deep each metric is once the metrics it uses are inlined, as `Index.expand`
    inlines them (a reference back into a cycle is not followed). Computed without
    recursion, dependencies first.
    """
    shapes = {name: _shape(metric.expr) for name, metric in index.metrics.items()}
    depths: dict[str, int] = {}
    state: dict[str, int] = {}
    for root in index.metrics:
        if root in state:
            continue
        state[root] = 1
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(index.metric_deps[root]))]
        while stack:
            name, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                state[name] = 2
                own, refs = shapes[name]
                depths[name] = max([own] + [at + depths[ref] - 1 for ref, at in refs
                                            if ref in depths])
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(index.metric_deps[child])))
    return depths


def too_deep(index: Index) -> frozenset[str]:
    """The metrics deeper than `MAX_DEPTH` once inlined."""
    return frozenset(name for name, depth in expanded_depths(index).items()
                     if depth > MAX_DEPTH)


def rule_metric_depth(ctx: Context) -> Iterator[Diagnostic]:
    """MS304 at each metric that first crosses the limit (not at every metric above it)."""
    for metric in ctx.project.metrics:
        if metric.name not in ctx.too_deep or ctx.index.metrics.get(metric.name) is not metric:
            continue
        if any(dep in ctx.too_deep for dep in ctx.index.metric_deps[metric.name]):
            continue
        yield error("MS304", f"`{metric.name}` nests more than {MAX_DEPTH} levels deep once "
                    "the metrics it uses are inlined", metric.span,
                    "build it on fewer layers of metrics, or aggregate a column directly")
