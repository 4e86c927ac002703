"""metricspec: a declarative metric-spec compiler.

Write metrics, KPI trees, guardrails, experiments and monitors once, in version-controlled
spec files; check them without a warehouse; compile them to warehouse SQL and analysis plans;
run them on embedded DuckDB or a real warehouse.
"""

__version__ = "0.1.0"
