"""The experiment report's charts: the forest plot of relative lifts with their intervals
(a Vega-Lite chart from `report.charts`) and the small interval bar of each table row.

Each forest row is one metric (and treatment): a point at the lift, a rule across its
interval, a zero rule, and for guardrails a dashed tick at the margin. Intervals beyond ±100%
are clamped to the axis, so one wide percentile interval does not flatten the others.
"""

from __future__ import annotations

from metricspec.report.charts import ForestRow, forest_chart, interval_bar_spec, svg_of
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


def interval_bars(report: ExperimentReport) -> dict[tuple[str, str], str]:
    """A small chart per overall metric row: its interval and lift on one scale shared by all
    rows (so the rows compare), with the zero line; keyed by (metric, treatment)."""
    rows = [m for m in report.metrics if m.ci_lower is not None and m.ci_upper is not None]
    values = [v for m in rows for v in (m.ci_lower, m.ci_upper, m.lift)
              if v is not None and abs(v) < 1.0] + [0.0]
    lo, hi = min(values), max(values)
    pad = max(0.005, (hi - lo) * 0.05)
    bars = {}
    for m in rows:
        if m.ci_lower is None or m.ci_upper is None:
            continue
        svg = svg_of(interval_bar_spec(m.lift, m.ci_lower, m.ci_upper, m.verdict,
                                       (lo - pad, hi + pad)))
        bars[(m.metric, m.treatment)] = f'<span class="bar" aria-hidden="true">{svg}</span>'
    return bars
