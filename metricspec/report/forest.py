"""The experiment report's charts: the forest plot of relative lifts with their intervals
(a Vega-Lite chart from `report.charts`) and the small interval bar of each table row.

Each forest row is one metric (and treatment): a point at the lift, a rule across its
interval, a zero rule, and for guardrails a dashed tick at the margin. Intervals beyond ±100%
are clamped to the axis, so one wide percentile interval does not flatten the others.
"""

from __future__ import annotations

from metricspec.report.charts import COLORS, ForestRow, forest_chart
from metricspec.report.experiment import ExperimentReport


def forest_rows(report: ExperimentReport) -> list[ForestRow]:
    margins = {(g.metric, g.treatment): g.margin_lift for g in report.guardrails}
    multi = len({m.treatment for m in report.metrics}) > 1
    return [ForestRow(m.label, f"{m.role}{' · ' + m.treatment if multi else ''}", m.lift,
                      m.ci_lower, m.ci_upper, m.verdict, margins.get((m.metric, m.treatment)))
            for m in report.metrics]


def forest_svg(report: ExperimentReport) -> str:
    """The forest plot of the report's overall metrics as an SVG string."""
    return forest_chart(forest_rows(report))


BAR_WIDTH, BAR_HEIGHT = 120, 14


def interval_bars(report: ExperimentReport) -> dict[tuple[str, str], str]:
    """A small inline SVG per overall metric row: its interval and lift on one scale shared
    by all rows (so the rows compare), with the zero line; keyed by (metric, treatment)."""
    rows = [m for m in report.metrics if m.ci_lower is not None and m.ci_upper is not None]
    values = [v for m in rows for v in (m.ci_lower, m.ci_upper, m.lift)
              if v is not None and abs(v) < 1.0] + [0.0]
    lo, hi = min(values), max(values)
    pad = max(0.005, (hi - lo) * 0.05)
    lo, hi = lo - pad, hi + pad

    def x(v: float) -> float:
        return 2 + (min(max(v, lo), hi) - lo) / (hi - lo) * (BAR_WIDTH - 4)

    bars = {}
    mid = BAR_HEIGHT / 2
    for m in rows:
        if m.ci_lower is None or m.ci_upper is None:
            continue
        color = COLORS.get(m.verdict, "#475569")
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="bar" width="{BAR_WIDTH}" '
                 f'height="{BAR_HEIGHT}" viewBox="0 0 {BAR_WIDTH} {BAR_HEIGHT}" '
                 f'aria-hidden="true">',
                 f'<line x1="{x(0):.1f}" y1="0" x2="{x(0):.1f}" y2="{BAR_HEIGHT}" '
                 f'stroke="#94a3b8"/>',
                 f'<line x1="{x(m.ci_lower):.1f}" y1="{mid}" x2="{x(m.ci_upper):.1f}" '
                 f'y2="{mid}" stroke="{color}" stroke-width="3"/>']
        if m.lift is not None:
            # a square, not a circle: the forest plot's circles are its points, one a metric
            parts.append(f'<rect x="{x(m.lift) - 3.5:.1f}" y="{mid - 3.5}" width="7" height="7" '
                         f'fill="{color}"/>')
        parts.append("</svg>")
        bars[(m.metric, m.treatment)] = "".join(parts)
    return bars
