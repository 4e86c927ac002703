"""Charts as Vega-Lite specifications (plain dicts) rendered offline to SVG by vl-convert.

Every chart is built from plain values (never from a report object), so the experiment and
monitor reports, the KPI explanation and the docs site share one drawing code and one look.
The SVG is inlined in the page: no script, font or network is needed to view it. Text from
specs (metric labels, variant names) enters the chart only as data values, which the renderer
writes as escaped SVG text; `svg_of` still refuses any output that carries a script element.

Every layer is named, so its marks can be found (and counted) in the SVG: `<g class="mark-…
role-mark NAME_marks">`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from metricspec.safetext import printable

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
COLORS = {"win": "#15803d", "loss": "#b91c1c", "flat": "#475569", "changed": "#a16207",
          "insufficient data": "#a16207", "not judged": "#94a3b8"}
_FONT = "system-ui, -apple-system, Segoe UI, sans-serif"
_CONFIG: dict[str, Any] = {
    "font": _FONT, "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "titleFontWeight": "normal",
             "labelColor": "#334155", "titleColor": "#334155", "gridColor": "#e2e8f0"},
    "legend": {"labelFontSize": 11, "titleFontSize": 11},
}


class ChartError(RuntimeError):
    """The renderer failed or produced something that is not a safe SVG."""


def _visible(value: Any) -> Any:
    """Every string of a spec with control characters shown as escapes: the renderer aborts
    the whole process on some of them (an escape or a bell in a label), and none belongs in
    a chart."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {k: _visible(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_visible(v) for v in value]
    return value


def svg_of(spec: dict[str, Any]) -> str:
    """Render a Vega-Lite spec to an SVG string (offline; the renderer is imported here, so
    commands that draw nothing do not load it)."""
    import vl_convert

    try:
        svg: str = vl_convert.vegalite_to_svg(_visible(spec))
    except Exception as exc:  # the renderer's own error type is not part of its API
        raise ChartError(f"the chart could not be rendered: {exc}") from exc
    if "<script" in svg.lower() or "<foreignobject" in svg.lower():
        raise ChartError("the rendered chart carries active content")
    return svg


def d3_format(metric_format: str | None) -> str:
    """The axis format (d3-format) of a metric's declared format."""
    return {"percent": ".1%", "currency": "$,.3~g", "integer": ",d"}.get(metric_format or "",
                                                                       ",.4~g")


def _base(width: int, height: int | dict[str, int], title: str) -> dict[str, Any]:
    return {"$schema": SCHEMA, "width": width, "height": height, "background": "white",
            "padding": {"left": 12, "right": 12, "top": 6, "bottom": 12}, "config": _CONFIG,
            "description": title}


def label_extent(labels: Sequence[str], font_px: float = 11.0, limit: float = 260.0) -> float:
    """Room for axis labels, estimated wide (0.68 em a character): the renderer measures text
    with its own font, the browser with another, and a label must not be cut in either."""
    longest = max((len(label) for label in labels), default=0)
    return min(limit, longest * font_px * 0.68) + 8


def _axis_format(values: Sequence[float]) -> str:
    span = max(values) - min(values) if values else 0.0
    return "+.1%" if span < 0.2 else "+.0%"


# ── forest plot ──────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class ForestRow:
    """One metric (and treatment): lift, its interval and, for guardrails, the margin; all
    relative to control."""

    label: str
    sublabel: str
    lift: float | None
    lo: float | None
    hi: float | None
    verdict: str
    margin: float | None = None


def forest_spec(rows: Sequence[ForestRow], width: int = 520) -> dict[str, Any]:
    """Points at each lift, rules across their intervals, a zero rule and dashed margin ticks.
    Intervals wider than ±100% are clamped to the axis so one wide interval does not flatten
    the others (the table carries the numbers)."""
    data = [{"row": f"{r.label} · {r.sublabel}" if r.sublabel else r.label, "order": i,
             "lift": r.lift, "lo": r.lo, "hi": r.hi, "verdict": r.verdict, "margin": r.margin,
             "shown": "–" if r.lift is None else f"{r.lift * 100:+.2f}%" + (
                 f" [{r.lo * 100:+.2f}%, {r.hi * 100:+.2f}%]"
                 if r.lo is not None and r.hi is not None else "")}
            for i, r in enumerate(rows)]
    values = [v for r in rows for v in (r.lift, r.margin, r.lo, r.hi)
              if v is not None and abs(v) < 1.0] + [0.0]
    pad = max(0.01, (max(values) - min(values)) * 0.08)
    domain = [min(values) - pad, max(values) + pad]
    x = {"type": "quantitative", "scale": {"domain": domain, "clamp": True, "nice": False},
         "axis": {"format": _axis_format(values), "title": "relative lift vs control"}}
    y = {"field": "row", "type": "nominal", "sort": {"field": "order"}, "title": None,
         "axis": {"labelLimit": 260, "minExtent": label_extent([str(d["row"]) for d in data])}}
    color = {"field": "verdict", "type": "nominal", "legend": None,
             "scale": {"domain": list(COLORS), "range": list(COLORS.values())}}
    spec = _base(width, {"step": 30}, "Relative lift of each metric with its interval")
    spec["data"] = {"values": data}
    spec["layer"] = [
        {"name": "zero", "data": {"values": [{"zero": 0.0}]}, "mark": {"type": "rule",
         "color": "#334155"}, "encoding": {"x": {**x, "field": "zero"}}},
        {"name": "intervals", "transform": [{"filter": "isValid(datum.lo) && isValid(datum.hi)"}],
         "mark": {"type": "rule", "strokeWidth": 2.5},
         "encoding": {"y": y, "x": {**x, "field": "lo"}, "x2": {"field": "hi"}, "color": color}},
        {"name": "margins", "transform": [{"filter": "isValid(datum.margin)"}],
         "mark": {"type": "tick", "color": "#dc2626", "strokeDash": [4, 3], "thickness": 1.5},
         "encoding": {"y": y, "x": {**x, "field": "margin"}}},
        {"name": "points", "transform": [{"filter": "isValid(datum.lift)"}],
         "mark": {"type": "point", "filled": True, "size": 70, "opacity": 1},
         "encoding": {"y": y, "x": {**x, "field": "lift"}, "color": color,
                      "tooltip": [{"field": "row", "title": "metric"},
                                  {"field": "shown", "title": "lift"}]}},
    ]
    return spec


def forest_chart(rows: Sequence[ForestRow]) -> str:
    return svg_of(forest_spec(rows))


def interval_bar_spec(lift: float | None, lo: float, hi: float, verdict: str,
                      domain: tuple[float, float], width: int = 120,
                      height: int = 14) -> dict[str, Any]:
    """A table cell's small chart: one interval and its lift on a scale shared by all rows
    (so the rows compare), with the zero line; no axis (the cell prints the numbers)."""
    x = {"type": "quantitative", "scale": {"domain": list(domain), "clamp": True, "nice": False},
         "axis": None}
    color = COLORS.get(verdict, "#475569")
    return {"$schema": SCHEMA, "width": width, "height": height, "padding": 0,
            "background": None, "config": {"view": {"stroke": None}},
            "description": "the interval of the difference, relative to control",
            "data": {"values": [{"lo": lo, "hi": hi, "lift": lift, "zero": 0.0}]},
            "layer": [
                {"name": "zero", "mark": {"type": "rule", "color": "#94a3b8"},
                 "encoding": {"x": {**x, "field": "zero"}}},
                {"name": "interval", "mark": {"type": "rule", "color": color, "strokeWidth": 3},
                 "encoding": {"x": {**x, "field": "lo"}, "x2": {"field": "hi"}}},
                {"name": "lift", "transform": [{"filter": "isValid(datum.lift)"}],
                 "mark": {"type": "square", "color": color, "size": 40, "opacity": 1,
                          "filled": True},
                 "encoding": {"x": {**x, "field": "lift"}}},
            ]}


# ── effect over time ─────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class EffectPoint:
    """The cumulative relative lift up to and including `day`, with its interval."""

    day: dt.date
    lift: float
    ci_low: float
    ci_high: float


def effect_over_time_spec(points: Sequence[EffectPoint], title: str,
                          width: int = 520) -> dict[str, Any]:
    """A band for the interval, a line with points for the cumulative lift, a zero rule."""
    kept = [p for p in points if all(math.isfinite(v) for v in (p.lift, p.ci_low, p.ci_high))]
    data = [{"day": p.day.isoformat(), "lift": p.lift, "lo": p.ci_low, "hi": p.ci_high}
            for p in kept]
    values = [v for p in kept for v in (p.lift, p.ci_low, p.ci_high)] + [0.0]
    x = {"field": "day", "type": "temporal", "title": None,
         "axis": {"format": "%b %d", "labelAngle": 0}}
    y = {"type": "quantitative", "axis": {"format": _axis_format(values),
                                          "title": "cumulative lift"}}
    spec = _base(width, 180, f"Cumulative relative lift of {title} by day")
    spec["title"] = {"text": title, "anchor": "start", "fontSize": 12, "fontWeight": "normal"}
    spec["data"] = {"values": data}
    spec["layer"] = [
        {"name": "band", "mark": {"type": "area", "opacity": 0.25, "color": "#2563eb"},
         "encoding": {"x": x, "y": {**y, "field": "lo"}, "y2": {"field": "hi"}}},
        {"name": "zero", "data": {"values": [{"zero": 0.0}]},
         "mark": {"type": "rule", "color": "#334155"}, "encoding": {"y": {**y, "field": "zero"}}},
        {"name": "lift", "mark": {"type": "line", "color": "#1d4ed8", "point": False},
         "encoding": {"x": x, "y": {**y, "field": "lift"}}},
        {"name": "days", "mark": {"type": "point", "filled": True, "size": 24,
                                  "color": "#1d4ed8", "opacity": 1},
         "encoding": {"x": x, "y": {**y, "field": "lift"},
                      "tooltip": [{"field": "day", "type": "temporal"},
                                  {"field": "lift", "format": "+.2%"},
                                  {"field": "lo", "format": "+.2%"},
                                  {"field": "hi", "format": "+.2%"}]}},
    ]
    return spec


def effect_over_time_chart(points: Sequence[EffectPoint], title: str) -> str:
    return svg_of(effect_over_time_spec(points, title))


# ── monitor series ───────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class SeriesPoint:
    """One window of a monitored series: its value, the baseline band (when the rule has a
    baseline) and whether the window is in alert."""

    period: dt.datetime | dt.date
    value: float | None
    band_low: float | None = None
    band_high: float | None = None
    alert: bool = False


def monitor_series_spec(points: Sequence[SeriesPoint], title: str, value_format: str = ",.4~g",
                        width: int = 620, threshold: float | None = None) -> dict[str, Any]:
    """The value as a line, the baseline band as a grey box over each window that has one
    (from the baseline to the alert limit), alert windows as shaded columns with a red point
    on the value, and a fixed threshold as a dashed rule."""
    steps = sorted({p.period for p in points})
    step = min((b - a for a, b in pairwise(steps)), default=dt.timedelta(days=1))
    data = [{"t": p.period.isoformat(), "t2": (p.period + step).isoformat(), "value": p.value,
             "lo": p.band_low, "hi": p.band_high, "alert": p.alert} for p in points]
    alerts = [{"t": p.period.isoformat(), "t2": (p.period + step).isoformat()}
              for p in points if p.alert]
    daily = step >= dt.timedelta(days=1)
    x = {"field": "t", "type": "temporal", "title": None,
         "axis": {"labelAngle": 0, "format": "%b %d" if daily else "%b %d %H:%M"}}
    y = {"type": "quantitative", "title": None, "axis": {"format": value_format},
         "scale": {"zero": False}}
    spec = _base(width, 180, f"{title}: value by window with its baseline and alerts")
    spec["title"] = {"text": title, "anchor": "start", "fontSize": 12, "fontWeight": "normal"}
    spec["data"] = {"values": data}
    spec["layer"] = [
        {"name": "alert_windows", "data": {"values": alerts or [{"t": None, "t2": None}]},
         "transform": [{"filter": "isValid(datum.t)"}],
         "mark": {"type": "rect", "color": "#fecaca", "opacity": 0.7},
         "encoding": {"x": {**x, "field": "t"}, "x2": {"field": "t2"}}},
        {"name": "baseline", "transform": [{"filter": "isValid(datum.lo) && isValid(datum.hi)"}],
         "mark": {"type": "rect", "color": "#64748b", "opacity": 0.35},
         "encoding": {"x": x, "x2": {"field": "t2"}, "y": {**y, "field": "lo"},
                      "y2": {"field": "hi"}}},
        {"name": "value",  # a window without a value breaks the line (no false bridge)
         "mark": {"type": "line", "color": "#1d4ed8", "strokeWidth": 1.5,
                  "invalid": "break-paths-filter-domains"},
         "encoding": {"x": x, "y": {**y, "field": "value"}}},
        {"name": "alerts", "transform": [{"filter": "datum.alert && isValid(datum.value)"}],
         "mark": {"type": "point", "filled": True, "color": "#b91c1c", "size": 36,
                  "opacity": 1},
         "encoding": {"x": x, "y": {**y, "field": "value"},
                      "tooltip": [{"field": "t", "type": "temporal", "title": "window",
                                   "format": "%Y-%m-%d %H:%M"},
                                  {"field": "value", "format": value_format}]}},
    ]
    if threshold is not None:
        spec["layer"].append(
            {"name": "threshold", "data": {"values": [{"limit": threshold}]},
             "mark": {"type": "rule", "color": "#b91c1c", "strokeDash": [5, 4]},
             "encoding": {"y": {**y, "field": "limit"}}})
    return spec


def monitor_series_chart(points: Sequence[SeriesPoint], title: str,
                         value_format: str = ",.4~g", threshold: float | None = None) -> str:
    return svg_of(monitor_series_spec(points, title, value_format, threshold=threshold))


# ── waterfall ────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Step:
    """One bar of a waterfall: a contribution (or, with `total`, a level from zero)."""

    label: str
    amount: float
    total: bool = False
    kind: str = "driver"  # driver, residual or total


def waterfall_spec(steps: Sequence[Step], title: str, value_format: str = ",.4~g",
                   width: int = 560) -> dict[str, Any]:
    """Bars from a start level through each contribution to the end level; contributions
    that raise the value and those that lower it in two colours, the residual hatched grey."""
    spans = []
    level = 0.0
    for s in steps:
        start, level = (s.amount, s.amount) if s.total else (level, level + s.amount)
        spans.append((start, level))
    # the axis covers the levels the bars pass through, not zero: a change of 1% of the
    # level stays visible; totals are drawn up from the axis' foot
    ends = [v for pair in spans for v in pair] or [0.0]
    pad = (max(ends) - min(ends)) * 0.25 or abs(max(ends)) * 0.05 or 1.0
    foot, top = min(ends) - pad, max(ends) + pad
    data = []
    for i, (s, (start, end)) in enumerate(zip(steps, spans, strict=True)):
        kind = s.kind if s.kind != "driver" else ("up" if s.amount >= 0 else "down")
        data.append({"step": s.label, "order": i, "start": foot if s.total else start,
                     "end": end, "kind": kind, "amount": s.amount})
    kinds = {"total": "#475569", "up": "#2563eb", "down": "#ea580c", "residual": "#a8a29e"}
    x = {"field": "step", "type": "nominal", "sort": {"field": "order"}, "title": None,
         "axis": {"labelAngle": -30, "labelLimit": 160}}
    spec = _base(width, 220, f"{title}: contributions to the change")
    spec["title"] = {"text": title, "anchor": "start", "fontSize": 12, "fontWeight": "normal"}
    spec["data"] = {"values": data}
    spec["layer"] = [
        {"name": "bars", "mark": {"type": "bar", "width": {"band": 0.7}},
         "encoding": {"x": x, "y": {"field": "start", "type": "quantitative", "title": None,
                                    "axis": {"format": value_format},
                                    "scale": {"domain": [foot, top], "nice": False,
                                              "zero": False}},
                      "y2": {"field": "end"},
                      "color": {"field": "kind", "type": "nominal", "legend": None,
                                "scale": {"domain": list(kinds), "range": list(kinds.values())}},
                      "tooltip": [{"field": "step"},
                                  {"field": "amount", "format": value_format}]}},
    ]
    return spec


def waterfall_chart(steps: Sequence[Step], title: str, value_format: str = ",.4~g") -> str:
    return svg_of(waterfall_spec(steps, title, value_format))


# ── reading a rendered chart ─────────────────────────────────────────────────────────────

_ELEMENT = {"symbol": "path", "rule": "line", "rect": "path", "line": "path", "area": "path",
            "text": "text"}


def mark_count(svg: str, layer: str) -> int:
    """How many marks the named layer drew in a rendered chart (0 when it drew none): the
    layer is a `<g class="mark-KIND role-mark LAYER_marks">` group with one element a mark.
    Used by the tests, and by anyone checking a page's charts without a browser."""
    import re

    total = 0
    for found in re.finditer(rf'<g class="mark-(\w+) role-mark {re.escape(layer)}_marks"[^>]*>',
                             svg):
        element, depth = _ELEMENT.get(found.group(1), "path"), 1
        for tag in re.finditer(r"<(/?)(\w+)[^>]*?(/?)>", svg[found.end():]):
            closing, name, self_closing = tag.groups()
            if name == "g" and not self_closing:
                depth += -1 if closing else 1
                if depth == 0:
                    break
            elif name == element and not closing and depth == 1:
                total += 1
    return total
