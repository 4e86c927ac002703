"""Documents about the specs, written after analysis: the pre-registered analysis plan of an
experiment (`analysis_plan.py`, JSON and Markdown), the offline docs site (`docs.py`, with
its search index in `search_index.py`), its KPI tree diagrams (`kpi_svg.py`, laid out by
`graph_layout.py`) and why a KPI tree's north star moved (`kpi_explain.py`, shown by
`kpi_page.py`). Templates are in `templates/`, rendered through the
environments of `environments.py` (built by `metricspec.templating`).

May import: `metricspec.plan`, `metricspec.pipeline` (the docs site shows each metric's SQL),
`metricspec.analyze`, `metricspec.stats` (power for declared baselines), `metricspec.ir`,
`metricspec.semantic`, `metricspec.backends`, `metricspec.templating`, `metricspec.outputs`,
`metricspec.report` (charts and number formats), `metricspec.safetext`.
"""
