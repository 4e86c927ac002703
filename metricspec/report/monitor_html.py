"""The monitor report as a self-contained HTML page: per monitor, its status, rule and range,
the metric's series over the range with the windows in alert shaded, the baseline each alert
was judged against (from the baseline to the alert limit), a fixed threshold as a rule, and
the table of alerts. Built from the monitor's own series (its metric query) and its alerts:
no number here is computed anew."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from metricspec import __version__
from metricspec.plan.monitor import N_COLUMN, MonitorPlan
from metricspec.report.charts import SeriesPoint, d3_format, monitor_series_chart
from metricspec.report.monitor import MonitorReport
from metricspec.templating import environment

_ENV = environment("metricspec.report", "templates", "html")
_THRESHOLD_RULES = ("below", "above", "at_or_below", "at_or_above")


@dataclass(frozen=True)
class MonitorSection:
    report: MonitorReport
    plan: MonitorPlan
    series: Sequence[dict[str, Any]]  # the monitor's series rows: period, metric, sample_n
    metric_format: str | None = None


def _limit(plan: MonitorPlan, alert: dict[str, Any]) -> tuple[float, float] | None:
    """(baseline, alert limit) of one alert window, for the band; None without a baseline."""
    baseline, value, deviation = alert.get("baseline"), alert.get("value"), alert.get(
        "deviation")
    if baseline is None:
        return None
    t = plan.threshold
    if plan.rule == "below_baseline":
        return baseline, baseline * (1 - t)
    if plan.rule == "above_baseline":
        return baseline, baseline * (1 + t)
    if plan.rule in ("zscore_below", "zscore_above") and deviation and value is not None:
        sd = (value - baseline) / deviation  # the deviation is the z-score
        return baseline, baseline + (-t if plan.rule == "zscore_below" else t) * abs(sd)
    return None


def _time(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def series_points(plan: MonitorPlan, series: Sequence[dict[str, Any]],
                  alerts: Sequence[dict[str, Any]]) -> list[SeriesPoint]:
    """One point per window of the range (windows before the range feed baselines only); a
    window with fewer than `min_n` events has no value, as the monitor does not judge it."""
    flagged = {_time(a["period"]): a for a in alerts}
    points = []
    for row in series:
        period = _time(row["period"])
        if plan.start is not None and period < plan.start:
            continue
        alert = flagged.get(period)
        band = _limit(plan, alert) if alert else None
        value = row.get(plan.metric.lower(), row.get(plan.metric))
        n = row.get(N_COLUMN)
        if n is not None and n < plan.min_n:  # not judged: too few events to draw either
            value = None
        points.append(SeriesPoint(period, None if value is None else float(value),
                                  min(band) if band else None, max(band) if band else None,
                                  alert is not None))
    return points


def render_monitor_html(sections: Sequence[MonitorSection]) -> str:
    views = []
    for s in sections:
        chart = None
        if not s.plan.series.dimensions and s.series:
            threshold = s.plan.threshold if s.plan.rule in _THRESHOLD_RULES else None
            chart = Markup(monitor_series_chart(
                series_points(s.plan, s.series, s.report.raw), s.report.name,
                d3_format(s.metric_format), threshold))
        views.append({"report": s.report, "chart": chart,
                      "dimensions": list(s.plan.series.dimensions)})
    return _ENV.get_template("monitor.html.j2").render(sections=views, version=__version__)
