"""The self-contained HTML experiment report (jinja2; no scripts, fonts or network): charts
are inline SVG rendered offline (`report.charts`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from markupsafe import Markup

from metricspec import __version__
from metricspec.report.charts import EffectPoint, effect_over_time_chart
from metricspec.report.diagnostics import passed_text
from metricspec.report.experiment import ExperimentReport
from metricspec.report.forest import forest_svg, interval_bars
from metricspec.report.progress import Progress
from metricspec.templating import environment

_ENV = environment("metricspec.report", "templates", "html")


def render_html(report: ExperimentReport, progress: Progress | None = None,
                effects: Sequence[tuple[str, Sequence[EffectPoint]]] = ()) -> str:
    """The page; with `progress`, how far the experiment is against its analysis plan; with
    `effects` (a title and its points per primary metric), the cumulative effect by day."""
    template = _ENV.get_template("experiment.html.j2")
    effects = effects or effects_of(report)
    bars = {key: Markup(svg) for key, svg in interval_bars(report).items()}
    # no chart of effects when the split is broken: they would read as verdicts
    charts = [Markup(effect_over_time_chart(points, title)) for title, points in effects
              if points] if report.srm_status != "failed" else []
    passed = passed_text(report.diagnostics) if report.diagnostics else ""
    return template.render(report=report, forest=Markup(forest_svg(report)), bars=bars,
                           version=__version__, progress=progress, effects=charts,
                           diagnostics_passed=passed)


def effects_of(report: ExperimentReport) -> list[tuple[str, list[EffectPoint]]]:
    """The cumulative lift by day of each primary metric, from the daily diagnostics query
    (`report.diagnostics`; none when it did not run)."""
    out = []
    for m in (report.diagnostics or {}).get("metrics", []):
        points = [EffectPoint(dt.date.fromisoformat(p["date"]), p["lift"], p["ci_low"],
                              p["ci_high"])
                  for p in m["cumulative"]
                  if p.get("date") and None not in (p["lift"], p["ci_low"], p["ci_high"])]
        out.append((f"{m['label']} · {m['treatment']}: cumulative lift by day", points))
    return out
