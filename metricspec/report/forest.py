"""A forest plot of relative lifts with their confidence intervals, as inline SVG.

Each row is one metric (and treatment): a point at the lift, a bar across its interval, a
zero line, and for guardrails a dashed line at the margin. Intervals beyond the axis are
clipped with an arrow, so one wide percentile interval does not flatten the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from metricspec.report.experiment import ExperimentReport

WIDTH, LABEL, ROW, TOP, BOTTOM = 760, 230, 30, 34, 40
COLORS = {"win": "#15803d", "loss": "#b91c1c", "flat": "#475569", "changed": "#a16207",
          "insufficient data": "#a16207"}


@dataclass(frozen=True)
class Row:
    label: str
    sublabel: str
    lift: float | None
    lo: float | None
    hi: float | None
    verdict: str
    margin: float | None


def _rows(report: ExperimentReport) -> list[Row]:
    margins = {(g.metric, g.treatment): g.margin_lift for g in report.guardrails}
    multi = len({m.treatment for m in report.metrics}) > 1
    return [Row(m.label, f"{m.role}{' · ' + m.treatment if multi else ''}", m.lift, m.ci_lower,
                m.ci_upper, m.verdict, margins.get((m.metric, m.treatment)))
            for m in report.metrics]


def _ticks(lo: float, hi: float) -> list[float]:
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / 4)) if span > 0 else 0.01
    for factor in (1, 2, 5, 10):
        if span / (step * factor) <= 6:
            step *= factor
            break
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step) + 1)]


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def forest_svg(report: ExperimentReport) -> str:
    """The forest plot of the report's overall metrics as an SVG string."""
    rows = _rows(report)
    points = [v for r in rows for v in (r.lift, r.margin) if v is not None]
    spans = [v for r in rows for v in (r.lo, r.hi) if v is not None and abs(v) < 1.0]
    values = points + spans + [0.0]
    lo, hi = min(values), max(values)
    pad = max(0.01, (hi - lo) * 0.08)
    lo, hi = lo - pad, hi + pad
    plot = WIDTH - LABEL - 24
    height = TOP + ROW * len(rows) + BOTTOM

    def x(v: float) -> float:
        return LABEL + (min(max(v, lo), hi) - lo) / (hi - lo) * plot

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="forest" role="img" '
           f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
           f'aria-label="Relative lift of each metric with its confidence interval">',
           '<style>text{font:12px system-ui,sans-serif;fill:#1e293b}.sub{fill:#64748b;'
           'font-size:10px}.axis{stroke:#94a3b8}.zero{stroke:#334155;stroke-width:1.2}'
           '.margin{stroke:#dc2626;stroke-dasharray:4 3;stroke-width:1.5}</style>']
    bottom = TOP + ROW * len(rows)
    for tick in _ticks(lo, hi):
        tx = x(tick)
        out.append(f'<line class="axis" x1="{tx:.1f}" y1="{TOP - 6}" x2="{tx:.1f}" '
                   f'y2="{bottom}" stroke-opacity="0.35"/>')
        out.append(f'<text x="{tx:.1f}" y="{bottom + 16}" text-anchor="middle">'
                   f'{tick * 100:+.0f}%</text>')
    out.append(f'<line class="zero" x1="{x(0):.1f}" y1="{TOP - 10}" x2="{x(0):.1f}" '
               f'y2="{bottom}"/>')
    out.append(f'<text x="{LABEL + plot / 2:.0f}" y="{height - 6}" text-anchor="middle" '
               'class="sub">relative lift vs control (bars: interval of Δ / |control|; '
               'dashed: guardrail margin)</text>')
    for i, row in enumerate(rows):
        cy = TOP + ROW * i + ROW / 2
        color = COLORS.get(row.verdict, "#475569")
        out.append(f'<g class="row" data-metric="{_escape(row.label)}" '
                   f'data-verdict="{_escape(row.verdict)}">')
        out.append(f'<text x="8" y="{cy - 1:.1f}">{_escape(row.label)}</text>')
        out.append(f'<text class="sub" x="8" y="{cy + 11:.1f}">{_escape(row.sublabel)}</text>')
        if row.margin is not None:
            mx = x(row.margin)
            out.append(f'<line class="margin" x1="{mx:.1f}" y1="{cy - 11:.1f}" x2="{mx:.1f}" '
                       f'y2="{cy + 11:.1f}"><title>margin {row.margin * 100:+.1f}%</title></line>')
        if row.lo is not None and row.hi is not None:
            x1, x2 = x(row.lo), x(row.hi)
            out.append(f'<line x1="{x1:.1f}" y1="{cy:.1f}" x2="{x2:.1f}" y2="{cy:.1f}" '
                       f'stroke="{color}" stroke-width="2.5"/>')
            for value, edge, sign in ((row.lo, x1, -1), (row.hi, x2, 1)):
                if value < lo or value > hi:
                    out.append(f'<path d="M{edge:.1f},{cy - 5:.1f} L{edge + 6 * sign:.1f},'
                               f'{cy:.1f} L{edge:.1f},{cy + 5:.1f}" fill="{color}"/>')
        if row.lift is not None:
            title = (f"{row.lift * 100:+.2f}%" + (
                f" [{row.lo * 100:+.2f}%, {row.hi * 100:+.2f}%]"
                if row.lo is not None and row.hi is not None else ""))
            out.append(f'<circle cx="{x(row.lift):.1f}" cy="{cy:.1f}" r="5" fill="{color}">'
                       f'<title>{_escape(title)}</title></circle>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


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
