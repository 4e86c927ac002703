"""Emitting: plans → SQL text per backend (sqlglot), analysis plans and docs (jinja2).

May import: `metricspec.plan`, `metricspec.ir`, `metricspec.semantic`, `metricspec.backends`,
`metricspec.filters` (checked filters, rebuilt from the closed filter grammar).
"""
