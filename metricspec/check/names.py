"""Name rules: duplicates (MS204) and references to things that do not exist (MS201–MS206)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, did_you_mean, error
from metricspec.entity_graph import EntityGraph, JoinProblem, joins_to


def rule_duplicates(ctx: Context) -> Iterator[Diagnostic]:
    """Sources have their own namespace; metrics, KPI trees, guardrails, experiments and
    monitors share one, since `metricspec sql NAME` must find exactly one object."""
    p = ctx.project
    groups: list[tuple[str, Iterable[ir.SpecObject]]] = [
        ("source", p.sources),
        ("object", [*p.metrics, *p.kpis, *p.guardrails, *p.experiments, *p.monitors]),
    ]
    for _, objects in groups:
        first: dict[str, ir.SpecObject] = {}
        for obj in objects:
            if obj.name in first:
                earlier = first[obj.name]
                yield error("MS204", f"{_kind(obj)} `{obj.name}` is already defined as a "
                            f"{_kind(earlier)} at {earlier.span}", obj.span,
                            "rename one of them")
            else:
                first[obj.name] = obj
    for source in p.sources:
        columns: dict[str, ir.Column] = {}
        for column in source.all_columns():
            if column.name in columns:
                yield error("MS204", f"column `{column.name}` is declared twice in source "
                            f"`{source.name}` (first at {columns[column.name].span})",
                            column.span, "declare each column once, as an entity, the time "
                            "column, a dimension or a column")
            columns.setdefault(column.name, column)
    for kpi in p.kpis:
        parents: dict[str, ir.KpiEdge] = {}
        for edge in kpi.edges:
            if edge.parent.name in parents:
                yield error("MS204", f"`{edge.parent.name}` already has drivers in KPI tree "
                            f"`{kpi.name}` (at {parents[edge.parent.name].span})",
                            edge.parent.span, "list all its drivers in one edge")
            parents.setdefault(edge.parent.name, edge)


def _kind(obj: ir.SpecObject) -> str:
    return {ir.Source: "source", ir.Metric: "metric", ir.Kpi: "KPI tree",
            ir.Guardrail: "guardrail", ir.Experiment: "experiment",
            ir.Monitor: "monitor"}[type(obj)]


def unknown_metric(ctx: Context, ref: ir.Ref | ir.MetricRef) -> Diagnostic | None:
    """MS201 for a metric name that resolves to nothing (and did not merely fail to parse)."""
    if ref.name in ctx.index.metrics or ("metric", ref.name) in ctx.broken:
        return None
    return error("MS201", f"unknown metric `{ref.name}`", ref.span,
                 did_you_mean(ref.name, ctx.index.metrics))


def unknown_source(ctx: Context, ref: ir.Ref) -> Diagnostic | None:
    if ref.name in ctx.index.sources or ("source", ref.name) in ctx.broken:
        return None
    return error("MS202", f"unknown source `{ref.name}`", ref.span,
                 did_you_mean(ref.name, ctx.index.sources))


def rule_metric_references(ctx: Context) -> Iterator[Diagnostic]:
    """Metrics, sources and columns named inside metric expressions exist."""
    for metric in ctx.project.metrics:
        for node in ctx.walk(metric.expr):
            if isinstance(node, ir.MetricRef):
                found = unknown_metric(ctx, node)
                if found:
                    yield found
            elif isinstance(node, ir.Aggregate):
                yield from _aggregate_refs(ctx, node)
            elif isinstance(node, ir.Conversion):
                yield from _conversion_refs(ctx, node)


def _aggregate_refs(ctx: Context, node: ir.Aggregate) -> Iterator[Diagnostic]:
    missing = unknown_source(ctx, node.source)
    if missing:
        yield missing
        return
    source = ctx.index.sources.get(node.source.name)
    if source is None or node.column is None or not source.typed:
        return
    if source.column(node.column.name) is None:
        known = [c.name for c in source.all_columns()]
        yield error("MS203", f"unknown column `{node.column.name}` in source `{source.name}`",
                    node.column.span, did_you_mean(node.column.name, known))


def _conversion_refs(ctx: Context, node: ir.Conversion) -> Iterator[Diagnostic]:
    sources = []
    for events in (node.start, node.end):
        missing = unknown_source(ctx, events.source)
        if missing:
            yield missing
        elif events.source.name in ctx.index.sources:
            sources.append(ctx.index.sources[events.source.name])
    if len(sources) != 2:
        return
    if node.entity is None:
        shared = {e.name for e in sources[0].entities} & {e.name for e in sources[1].entities}
        if not shared:
            yield error("MS409", f"`{sources[0].name}` and `{sources[1].name}` share no entity, "
                        "so the conversion has no unit to follow", node.span,
                        "declare the common key (e.g. `entity user_id`) on both sources")
        return
    for source in sources:
        entities = [e.name for e in source.entities]
        if node.entity.name not in entities:
            yield error("MS205", f"`{node.entity.name}` is not an entity of source "
                        f"`{source.name}`", node.entity.span,
                        did_you_mean(node.entity.name, entities)
                        or f"its entities: {', '.join(entities) or 'none declared'}")


def rule_object_references(ctx: Context) -> Iterator[Diagnostic]:
    """KPI trees, guardrails, experiments and monitors name metrics and sources that exist."""
    refs: list[ir.Ref] = []
    for kpi in ctx.project.kpis:
        if kpi.north_star:
            refs.append(kpi.north_star)
        for edge in kpi.edges:
            refs.append(edge.parent)
            refs.extend(d.metric for d in edge.drivers)
    refs.extend(g.metric for g in ctx.project.guardrails)
    for exp in ctx.project.experiments:
        refs.extend(exp.primary)
        refs.extend(exp.secondary)
        refs.extend(g.metric for g in exp.guardrails)
        refs.extend(m for w in exp.winsorize for m in w.metrics)
        if exp.assignment:
            missing = unknown_source(ctx, exp.assignment.source)
            if missing:
                yield missing
            else:
                yield from _assignment_columns(ctx, exp)
    refs.extend(m.metric for m in ctx.project.monitors if m.metric)
    for ref in refs:
        found = unknown_metric(ctx, ref)
        if found:
            yield found


def _assignment_columns(ctx: Context, exp: ir.Experiment) -> Iterator[Diagnostic]:
    assert exp.assignment is not None
    source = ctx.index.sources.get(exp.assignment.source.name)
    if source is None:
        return
    known = [c.name for c in source.all_columns()]
    column = exp.assignment.variant_column
    if column is not None and source.typed and column.name not in known:
        yield error("MS203", f"unknown column `{column.name}` in source `{source.name}`",
                    column.span, did_you_mean(column.name, known))
    dimensions = [d.name for d in source.dimensions] + [d.name for d in source.derived]
    graph = ctx.graph
    for segment in exp.segments:  # a dimension reached through a join: check.joins
        if _reaches(graph, source, segment.name, dimensions):
            continue
        if "." in segment.name:
            yield _unreached(graph, source.name, segment)
            continue
        yield error("MS206", f"`{segment.name}` is not a dimension of the assignment "
                    f"source `{source.name}`", segment.span,
                    did_you_mean(segment.name, dimensions)
                    or f"declare it with `dimension {segment.name}` in `{source.name}`")


def _reaches(graph: EntityGraph, source: ir.Source, name: str, dimensions: list[str]) -> bool:
    """A dimension of the source (`platform`, `assignments.platform`) or through a join."""
    own = graph.resolve(source.name, name) is None and name.split(".")[-1] in dimensions
    return name in dimensions or own or joins_to(graph, source.name, name)


def _unreached(graph: EntityGraph, source: str, ref: ir.Ref) -> Diagnostic:
    """MS206 for a dotted reference that leads nowhere, with the dimensions reachable."""
    problem = graph.resolve(source, ref.name)
    assert isinstance(problem, JoinProblem)
    return error(problem.code, problem.message, ref.span, problem.hint)


def rule_monitor_dimensions(ctx: Context) -> Iterator[Diagnostic]:
    """A monitor sliced by a dimension needs it on every source its metric reads."""
    for monitor in ctx.project.monitors:
        if not monitor.metric or monitor.metric.name not in ctx.index.metrics:
            continue
        sources = [ctx.index.sources[s] for s in ctx.index.sources_of(monitor.metric.name)
                   if s in ctx.index.sources]
        graph = ctx.graph
        for dim in monitor.dimensions:
            lacking = [s.name for s in sources if not _reaches(
                graph, s, dim.name, [d.name for d in s.dimensions])]
            if lacking and "." in dim.name:
                yield _unreached(graph, lacking[0], dim)
            elif lacking:
                shared = set.intersection(*({d.name for d in s.dimensions} for s in sources))
                yield error("MS206", f"`{dim.name}` is not a dimension of "
                            f"{', '.join(f'`{n}`' for n in lacking)}", dim.span,
                            did_you_mean(dim.name, shared)
                            or f"declare `dimension {dim.name}` there or remove it")
