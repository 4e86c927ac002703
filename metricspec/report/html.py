"""The self-contained HTML experiment report (jinja2; no scripts, fonts or network)."""

from __future__ import annotations

from markupsafe import Markup

from metricspec import __version__
from metricspec.report.experiment import ExperimentReport
from metricspec.report.forest import forest_svg, interval_bars
from metricspec.templating import environment

_ENV = environment("metricspec.report", "templates", "html")


def render_html(report: ExperimentReport) -> str:
    template = _ENV.get_template("experiment.html.j2")
    bars = {key: Markup(svg) for key, svg in interval_bars(report).items()}
    return template.render(report=report, forest=Markup(forest_svg(report)), bars=bars,
                           version=__version__)
