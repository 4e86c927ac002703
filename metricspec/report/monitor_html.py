"""The monitor report as a self-contained HTML page: per monitor, its status, rule and range,
the metric's series over the range with the windows in alert shaded, the band from the
baseline each window is judged against to the rule's alert limit (on every judged window,
not only the alerts), windows too small to judge as gaps, a fixed threshold as a rule, and
the table of alerts. Built from the monitor's series query, which judges every window as the
alert query does: no number here is computed anew."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from metricspec import __version__
from metricspec.plan.monitor import MonitorPlan
from metricspec.report.charts import SeriesPoint, d3_format, monitor_series_chart
from metricspec.report.monitor import MonitorReport
from metricspec.templating import environment

_ENV = environment("metricspec.report", "templates", "html")
_THRESHOLD_RULES = ("below", "above", "at_or_below", "at_or_above")


@dataclass(frozen=True)
class MonitorSection:
    report: MonitorReport
    plan: MonitorPlan
    series: Sequence[dict[str, Any]]  # the rows of the monitor's series query
    metric_format: str | None = None


def _time(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def series_points(plan: MonitorPlan, series: Sequence[dict[str, Any]]) -> list[SeriesPoint]:
    """One point per window of the monitor's series query (`pipeline.series_sql`): the value
    of every judged window, a gap where the window was not judged (fewer than `min_n`
    events, or no value); for a baseline rule the band from the baseline the window was
    judged against to the rule's alert limit, on every window that has one; the alert flag
    as the query computed it."""
    points = []
    for row in series:
        judged = bool(row.get("judged"))
        value = _number(row.get("value")) if judged else None
        baseline, limit = _number(row.get("baseline")), _number(row.get("alert_limit"))
        band = (baseline, limit) if (plan.needs_baseline and baseline is not None
                                     and limit is not None) else None
        points.append(SeriesPoint(_time(row["period"]), value,
                                  min(band) if band else None, max(band) if band else None,
                                  bool(row.get("alert"))))
    return points


def render_monitor_html(sections: Sequence[MonitorSection]) -> str:
    views = []
    for s in sections:
        chart = None
        if not s.plan.series.dimensions and s.series:
            threshold = s.plan.threshold if s.plan.rule in _THRESHOLD_RULES else None
            chart = Markup(monitor_series_chart(
                series_points(s.plan, s.series), s.report.name,
                d3_format(s.metric_format), threshold))
        views.append({"report": s.report, "chart": chart,
                      "dimensions": list(s.plan.series.dimensions)})
    return _ENV.get_template("monitor.html.j2").render(sections=views, version=__version__)
