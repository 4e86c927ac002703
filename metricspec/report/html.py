"""The self-contained HTML experiment report (jinja2; no scripts, fonts or network)."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from metricspec import __version__
from metricspec.report.experiment import ExperimentReport
from metricspec.report.forest import forest_svg

_ENV = Environment(loader=PackageLoader("metricspec.report", "templates"),
                   autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                   lstrip_blocks=True, keep_trailing_newline=True)


def render_html(report: ExperimentReport) -> str:
    template = _ENV.get_template("experiment.html.j2")
    return template.render(report=report, forest=Markup(forest_svg(report)),
                           version=__version__)
