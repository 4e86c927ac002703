"""The documentation site: an offline, browsable catalog of every metric (definition, owner,
direction, SQL per dialect, what uses it), KPI trees as SVG diagrams, experiments with their
analysis plans and links to their latest reports, monitors, guardrails and sources, and a
search box. Rendered with jinja2; no network; one small inline script (the search), without
which every page still reads.

Built with warehouse data (`SiteData`), metric pages also chart the metric's recent series
and KPI pages show each node's value and change and why the north star moved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

from metricspec import __version__, ir, pipeline
from metricspec.backends import Backend
from metricspec.document.analysis_plan import Baselines, build_plan, render_markdown
from metricspec.document.entity_svg import entity_graph_svg
from metricspec.document.environments import html_templates
from metricspec.document.kpi_explain import KpiExplanation
from metricspec.document.kpi_page import explanation_view, figures_of
from metricspec.document.kpi_svg import kpi_svg
from metricspec.document.search_index import index_json
from metricspec.entity_graph import EntityGraph
from metricspec.outputs import check_writable, file_name, inside, write_text
from metricspec.plan.experiment import plan_experiment
from metricspec.plan.joins import lineage
from metricspec.plan.lower import PlanError
from metricspec.plan.monitor import plan_monitor
from metricspec.report.charts import SeriesPoint, d3_format, monitor_series_chart
from metricspec.semantic import Index

# The analysis plan's Markdown escapes spec text already; raw HTML is off all the same.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


# The catalog's word for a shape, where it is not the shape's own name.
_KIND_WORDS = {"weighted": "composite", "extreme": "simple"}


def metric_kind(expr: ir.Expr, expanded: ir.Expr | None = None) -> str:
    """A one-word description of how a metric is defined (for the catalog): its `ir.shape`,
    the classification check and plan use too, then what its value is (`approximate`,
    `semi-additive`: `ir.qualifiers` of the `expanded` expression, when given)."""
    shape = ir.shape(expr)
    word = _KIND_WORDS.get(shape, shape)
    notes = ir.qualifiers(expanded) if expanded is not None else ()
    return f"{word}, {', '.join(notes)}" if notes else word


def source_text(texts: dict[str, str], span: ir.Span) -> str:
    """The text a span covers, as written."""
    lines = texts.get(span.file, "").split("\n")
    if not (1 <= span.line <= len(lines)):
        return ""
    if span.end_line == span.line:
        return lines[span.line - 1][span.column - 1 : span.end_column - 1]
    body = [lines[span.line - 1][span.column - 1 :]]
    body += lines[span.line : span.end_line - 1]
    body.append(lines[span.end_line - 1][: span.end_column - 1])
    return "\n".join(body)


@dataclass
class Site:
    """Pages by relative path (`metrics/<file name>.html`); every part is a safe file name."""

    pages: dict[str, str]

    def write(self, out: Path) -> list[Path]:
        """Write every page atomically inside `out`; raises `OutputError`."""
        check_writable(out, folder=True)
        paths = {relative: inside(out, *relative.split("/")) for relative in self.pages}
        written = []
        for relative, html in sorted(self.pages.items()):
            write_text(paths[relative], html)
            written.append(paths[relative])
        return written


@dataclass
class SiteData:
    """What a site built against a warehouse shows besides the specs: each metric's recent
    series (metric → points, over `series_range`), each KPI tree's explanation, and the
    reports found for each experiment (paths relative to the site's root, newest first)."""

    series: dict[str, list[SeriesPoint]] = field(default_factory=dict)
    series_range: str = ""
    explanations: dict[str, KpiExplanation] = field(default_factory=dict)
    reports: dict[str, list[str]] = field(default_factory=dict)


def _page(folder: str, name: str) -> str:
    return f"{folder}/{file_name(name, '.html')}"


def build_site(index: Index, texts: dict[str, str], backends: Sequence[Backend],
               data: SiteData | None = None) -> Site:
    data = data or SiteData()
    project = index.project
    labels = {m.name: m.label or m.name for m in project.metrics}
    common: dict[str, Any] = {"version": __version__, "project": project, "labels": labels}
    pages: dict[str, str] = {}
    env = html_templates()

    def render(template: str, path: str, **values: Any) -> None:
        depth = path.count("/")
        pages[path] = env.get_template(template).render(root="../" * depth, **common, **values)

    metrics = []
    for metric in sorted(project.metrics, key=lambda m: m.name):
        sql = {}
        for backend in backends:
            try:
                sql[backend.title] = pipeline.compile(index, metric.name, backend).sql
            except pipeline.CompileError as exc:
                sql[backend.title] = f"-- cannot compile: {exc.reason}"
        info = {
            "metric": metric,
            "kind": metric_kind(metric.expr, index.expand(metric.expr)),
            "definition": source_text(texts, metric.expr.span) or "",
            "deps": index.metric_deps.get(metric.name, ()),
            "uses": index.uses_of(metric.name),
            "sql": sql,
            "sources": index.sources_of(metric.name),
            "reads": lineage(index.sources, _aggregated(index, metric.name)),
        }
        metrics.append(info)
        points = data.series.get(metric.name)
        chart = (Markup(monitor_series_chart(points, metric.label or metric.name,
                                             d3_format(metric.format)))
                 if points and any(p.value is not None for p in points) else None)
        render("metric.html.j2", _page("metrics", metric.name), **info, series=chart,
               series_range=data.series_range, has_data=bool(data.series))
    kpis = []
    by_name = dict(index.metrics)
    for kpi in sorted(project.kpis, key=lambda k: k.name):
        explained = data.explanations.get(kpi.name)
        figures = figures_of(explained, by_name) if explained else None
        svg = Markup(kpi_svg(kpi, labels, link="../metrics/{}.html", figures=figures))
        # the index page sits one folder up: its own drawing, with links from there
        index_svg = Markup(kpi_svg(kpi, labels, link="metrics/{}.html", figures=figures))
        kpis.append({"kpi": kpi, "svg": svg, "index_svg": index_svg})
        view = explanation_view(explained, by_name) if explained else {}
        render("kpi.html.j2", _page("kpis", kpi.name), kpi=kpi, svg=svg, **view)
    experiments = []
    for exp in sorted(project.experiments, key=lambda e: e.name):
        try:
            planned = plan_experiment(index, exp.name)
            plan_html = Markup(
                _MARKDOWN.render(render_markdown(build_plan(planned, Baselines.declared(planned))))
            )
        except PlanError as exc:
            plan_html = Markup("<p>Cannot plan: {}</p>").format(str(exc))
        experiments.append(exp)
        render(
            "experiment.html.j2",
            _page("experiments", exp.name),
            experiment=exp,
            plan_html=plan_html,
            reports=data.reports.get(exp.name, []),
        )
    watchers = []
    for name in sorted([*index.monitors, *index.guardrails]):
        kind, obj = index.find(name) or ("monitor", None)
        try:
            description = plan_monitor(index, name).description
        except PlanError as exc:
            description = f"cannot plan: {exc}"
        watchers.append(
            {
                "object": obj,
                "kind": kind,
                "description": description,
            }
        )
    render(
        "index.html.j2",
        "index.html",
        metrics=metrics,
        kpis=kpis,
        experiments=experiments,
        watchers=watchers,
        search_index=index_json(index),
    )
    graph = EntityGraph(index.sources).data()
    render("sources.html.j2", "sources.html", sources=sorted(project.sources, key=lambda s: s.name),
           graph=graph, graph_svg=Markup(entity_graph_svg(graph)))
    return Site(pages)


def _aggregated(index: Index, metric: str) -> list[tuple[str, str | None]]:
    """Each (source, filter text) the metric and the metrics it is built on aggregate."""
    found: dict[tuple[str, str | None], None] = {}
    for dep in index.closure(metric):
        for node in ir.walk(index.metrics[dep].expr):
            if isinstance(node, ir.Aggregate) and node.source.name in index.sources:
                found.setdefault((node.source.name, node.filter.sql if node.filter else None))
            elif isinstance(node, ir.Conversion):  # both ends, each with its joins
                for end in (node.start, node.end):
                    if end.source.name in index.sources:
                        found.setdefault((end.source.name,
                                          end.filter.sql if end.filter else None))
    return list(found)
