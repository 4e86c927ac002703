"""The statistics engine: experiment analysis from per-variant sufficient statistics only.

This package owns every number in an experiment report: Welch and z tests, the delta
method for ratios and composite metrics, CUPED, clustered quantiles, the sample-ratio
check, multiple-testing corrections, always-valid confidence sequences, power and sample
size, guardrail non-inferiority tests and the ship decision. It never sees unit-level rows:
its input is `Moments` (n, Σv, Σv·w per variant), usually read from the long format the
SQL emits (`read_csv`, `read_parquet`, `read_rows`).

It imports only the standard library, NumPy and SciPy (PyArrow optionally, for Parquet),
and nothing else from metricspec. Conventions and the reference each number matches are in
docs/statistics.md; the input format is in docs/sufficient-statistics.md.
"""

from metricspec.stats import diagnostics, novelty, regression
from metricspec.stats.bayesian import BayesianPrior, BayesianResult, BayesianSettings, Posterior
from metricspec.stats.conventions import describe
from metricspec.stats.corrections import adjust, interval_alpha
from metricspec.stats.data import OVERALL, ExperimentData, SegmentData, VariantData
from metricspec.stats.engine import analyze
from metricspec.stats.formula import (
    Add,
    Component,
    Const,
    Div,
    Formula,
    Mul,
    Neg,
    Sub,
    mean_of,
    ratio_of,
)
from metricspec.stats.group_sequential import GroupSequentialDesign, Spending
from metricspec.stats.longformat import COLUMNS, LongFormatError, read_csv, read_parquet, read_rows
from metricspec.stats.longformat_writer import to_rows, write_csv, write_parquet
from metricspec.stats.moments import Moments, QuantileMoments
from metricspec.stats.power import (
    PowerPlan,
    expected_duration_days,
    family_size,
    minimum_detectable_effect,
    plan_power,
    sample_size_per_variant,
)
from metricspec.stats.results import (
    AnalysisResult,
    ArmValue,
    Conventions,
    CupedInfo,
    Decision,
    Estimate,
    GuardrailResult,
    GuardrailStatus,
    MetricResult,
    Outcome,
    SrmResult,
    SrmStatus,
    TreatmentDecision,
    Verdict,
)
from metricspec.stats.spec import (
    Correction,
    Direction,
    ExperimentConfig,
    Margin,
    Mde,
    MetricKind,
    MetricSpec,
    Role,
)
from metricspec.stats.srm import srm_check

__all__ = [
    "COLUMNS",
    "OVERALL",
    "Add",
    "AnalysisResult",
    "ArmValue",
    "BayesianPrior",
    "BayesianResult",
    "BayesianSettings",
    "Component",
    "Const",
    "Conventions",
    "Correction",
    "CupedInfo",
    "Decision",
    "Direction",
    "Div",
    "Estimate",
    "ExperimentConfig",
    "ExperimentData",
    "Formula",
    "GroupSequentialDesign",
    "GuardrailResult",
    "GuardrailStatus",
    "LongFormatError",
    "Margin",
    "Mde",
    "MetricKind",
    "MetricResult",
    "MetricSpec",
    "Moments",
    "Mul",
    "Neg",
    "Outcome",
    "Posterior",
    "PowerPlan",
    "QuantileMoments",
    "Role",
    "SegmentData",
    "Spending",
    "SrmResult",
    "SrmStatus",
    "Sub",
    "TreatmentDecision",
    "VariantData",
    "Verdict",
    "adjust",
    "analyze",
    "describe",
    "diagnostics",
    "expected_duration_days",
    "family_size",
    "interval_alpha",
    "mean_of",
    "minimum_detectable_effect",
    "novelty",
    "plan_power",
    "ratio_of",
    "read_csv",
    "read_parquet",
    "read_rows",
    "regression",
    "sample_size_per_variant",
    "srm_check",
    "to_rows",
    "write_csv",
    "write_parquet",
]
