"""Reporting: analysis results and monitor alerts for people (terminal via rich, HTML via
jinja2 with an SVG forest plot) and for machines (JSON).

May import: `metricspec.stats`, `metricspec.plan`.
"""
