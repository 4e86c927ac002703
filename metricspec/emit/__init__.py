"""Emitting: plans → sqlglot trees per backend, rendered to SQL text; nothing else (the
driver that plans and emits is `metricspec.pipeline`; documents are `metricspec.document`).

May import: `metricspec.plan`, `metricspec.ir`, `metricspec.semantic`, `metricspec.backends`,
`metricspec.filters` (checked filters, rebuilt from the closed filter grammar).
"""
