"""Documents about the specs, written after analysis: the pre-registered analysis plan of an
experiment (`analysis_plan.py`, JSON and Markdown), the offline docs site (`docs.py`) and
its KPI tree diagrams (`kpi_svg.py`). Templates are in `templates/`, rendered through the
environments of `environments.py` (built by `metricspec.templating`).

May import: `metricspec.plan`, `metricspec.pipeline` (the docs site shows each metric's SQL),
`metricspec.analyze`, `metricspec.stats` (power for declared baselines), `metricspec.ir`,
`metricspec.semantic`, `metricspec.backends`, `metricspec.templating`, `metricspec.outputs`.
"""
