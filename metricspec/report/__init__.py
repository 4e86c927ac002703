"""Reporting: analysis results and monitor alerts for people (terminal via rich, HTML via
jinja2 with charts rendered offline to inline SVG from Vega-Lite specs, `charts.py`) and for
machines (JSON).

May import: `metricspec.stats`, `metricspec.plan`, `metricspec.templating`,
`metricspec.safetext`.
"""
