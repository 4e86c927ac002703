"""The deterministic example warehouse of an AI customer-support assistant.

This package owns ``metricspec demo``'s data: :func:`generate` builds schema ``support``
(users, assignments, conversations, messages, feedback) in a DuckDB database at any scale, with
planted experiment effects, a sample-ratio mismatch, an assignment bug and a monitoring incident
whose ground truth it returns as a :class:`DemoSummary`. The schema is a contract, described
in :mod:`metricspec.demo.schema` and ``docs/demo-data.md``.

It may import only the standard library, numpy and duckdb; nothing else in metricspec imports
from it except the CLI, the tests and the benchmarks.
"""

from metricspec.demo.experiments import EXPERIMENTS, Effect, Experiment
from metricspec.demo.generate import DEFAULT_SEED, generate
from metricspec.demo.monitoring import Incident
from metricspec.demo.summary import DemoSummary, ExperimentTruth

__all__ = [
    "DEFAULT_SEED",
    "EXPERIMENTS",
    "DemoSummary",
    "Effect",
    "Experiment",
    "ExperimentTruth",
    "Incident",
    "generate",
]
