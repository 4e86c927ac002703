"""A KPI explanation made readable: the tree with each node's value and change, a waterfall
of the north star's change and the table behind it; as a section of the docs site's KPI page
and as a standalone page (`metricspec kpi --html`)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from metricspec import __version__, ir
from metricspec.document.environments import html_templates
from metricspec.document.kpi_explain import KpiExplanation
from metricspec.document.kpi_svg import NodeFigures, kpi_svg
from metricspec.report import fmt
from metricspec.report.charts import Step, waterfall_chart
from metricspec.semantic import Index


def _shown(metrics: dict[str, ir.Metric], name: str, x: float | None, delta: bool = False
           ) -> str:
    m = metrics.get(name)
    f, unit = (m.format, m.unit) if m else (None, None)
    return (fmt.delta if delta else fmt.value)(x, f, unit)


def figures_of(ex: KpiExplanation, metrics: dict[str, ir.Metric]) -> dict[str, NodeFigures]:
    """Each node's value in the period and its change against the baseline."""
    figures = {}
    for name, node in ex.nodes.items():
        change = _shown(metrics, name, node.change, delta=True)
        if node.relative is not None:
            change += f" ({fmt.lift(node.relative)})"
        figures[name] = NodeFigures(_shown(metrics, name, node.after), change, node.tone)
    return figures


def waterfall_svg(ex: KpiExplanation, metrics: dict[str, ir.Metric]) -> str | None:
    """The north star from the baseline to the period through each contribution and the
    unexplained residual; None when there is no change to explain."""
    star = ex.north_star
    if star is None:
        return None
    node = ex.nodes[star]
    if node.before is None or node.after is None:
        return None
    steps = [Step(ex.baseline, node.before, total=True, kind="total")]
    steps += [Step(ex.nodes[m].label, amount) for m, amount in ex.breakdown]
    if ex.unexplained is not None:
        steps.append(Step("unexplained", ex.unexplained, kind="residual"))
    steps.append(Step(ex.period, node.after, total=True, kind="total"))
    return waterfall_chart(steps, f"{node.label}: {ex.baseline} → {ex.period}")


def explanation_view(ex: KpiExplanation, metrics: dict[str, ir.Metric]) -> dict[str, Any]:
    """What the templates show: rows of contributions and of edges, formatted."""
    star = ex.north_star
    total = ex.nodes[star].change if star else None
    rows = []
    for name, amount in ex.breakdown:
        rows.append({"metric": name, "label": ex.nodes[name].label,
                     "amount": _shown(metrics, star or name, amount, delta=True),
                     "share": fmt.lift(amount / total) if total else "–"})
    edges = [{"parent": e.parent, "composition": e.composition, "method": e.method,
              "residual": _shown(metrics, e.parent, e.residual, delta=True),
              "note": e.note} for e in ex.edges]
    chart = waterfall_svg(ex, metrics)
    return {"explanation": ex, "contributions": rows, "edge_rows": edges,
            "unexplained": (None if ex.unexplained is None else
                            _shown(metrics, star or "", ex.unexplained, delta=True)),
            "waterfall": Markup(chart) if chart else None,
            "star_change": _shown(metrics, star or "", total, delta=True)}


def render_kpi_page(index: Index, ex: KpiExplanation) -> str:
    """The standalone page: no links out, no scripts, every chart inline."""
    kpi = index.kpis[ex.name]
    metrics = dict(index.metrics)
    labels = {n: m.label or n for n, m in metrics.items()}
    svg = Markup(kpi_svg(kpi, labels, link="#{}", figures=figures_of(ex, metrics)))
    return html_templates().get_template("kpi_report.html.j2").render(
        kpi=kpi, svg=svg, version=__version__, **explanation_view(ex, metrics))
