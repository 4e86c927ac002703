"""Planning: dialect-free descriptions of what to compute — which aggregates of which source
at which grain, one scan per source — for metric, experiment, monitor and KPI queries.

May import: `metricspec.ir`, `metricspec.semantic`.
"""
