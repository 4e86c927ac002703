"""The pre-registered analysis plan of an experiment: what will be tested, how, with what
power, and how the decision will be made — as versioned JSON and as Markdown (jinja2).

Baselines for power come from a historical window of the warehouse (`Baselines.from_rows`
on the output of the experiment query run over that window) or, without a warehouse, from
the `baseline mean … sd …` declared on each metric and the experiment's `traffic`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from metricspec import __version__, stats
from metricspec.analyze import config_for, metric_specs
from metricspec.document.environments import markdown_templates
from metricspec.document.plan_designs import extend
from metricspec.document.plan_regression import RegressionHistory, add_regression_power
from metricspec.plan.experiment import ExperimentPlan
from metricspec.plan.formula import show
from metricspec.plan.zones import from_utc
from metricspec.stats.conventions import describe
from metricspec.stats.power import declared_moments, declared_power_spec, family_size

SCHEMA = "metricspec.analysis-plan/1"


@dataclass(frozen=True)
class Baselines:
    """Per-metric baseline moments (one population) and the traffic they imply."""

    moments: Mapping[str, stats.Moments]
    daily_units: float | None
    units: int | None
    source: str
    declared_only: bool = False
    variant: stats.VariantData | None = None
    regression: RegressionHistory | None = None  # R² of the covariates over the history

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]], days: float, source: str) -> Baselines:
        data = stats.read_rows(rows)
        overall = data.overall
        variant = overall.variants.get("baseline") if overall else None
        if variant is None:
            return cls({}, None, None, source)
        units = variant.units
        return cls(
            dict(variant.moments),
            (units / days) if units and days else None,
            units,
            source,
            variant=variant,
        )

    @classmethod
    def declared(cls, plan: ExperimentPlan) -> Baselines:
        """Baselines written in the spec: `baseline mean … sd …` on metrics."""
        moments: dict[str, stats.Moments] = {}
        for metric in plan.metrics:
            b = metric.metric.baseline
            proportion = metric.kind == "proportion"
            if b is None or (b.sd is None and not proportion):
                continue  # a mean's spread cannot be guessed from its mean: declare its sd
            # a proportion's variance is p(1 − p) whatever sd is declared (power sizes it so)
            sd = b.sd if b.sd is not None and not proportion else 0.0
            moments[metric.name] = declared_moments(f"{metric.name}.x", b.mean, sd)
        traffic = plan.experiment.traffic
        daily = (traffic.units / (7.0 if traffic.per == "week" else 1.0)) if traffic else None
        return cls(moments, daily, None, "baselines declared in the spec", declared_only=True)


def _power_spec(spec: stats.MetricSpec, baselines: Baselines) -> stats.MetricSpec:
    """The metric as power sees the baselines: as declared (`declared_power_spec`) or as
    measured."""
    return declared_power_spec(spec) if baselines.declared_only else spec


def build_plan(plan: ExperimentPlan, baselines: Baselines) -> dict[str, Any]:
    """The analysis plan as plain data (the JSON document)."""
    exp = plan.experiment
    config = config_for(plan)
    specs = {s.name: s for s in metric_specs(plan)}
    tests = family_size(list(specs.values()), config)
    days = (plan.local_end - plan.local_start).total_seconds() / 86400.0
    available = baselines.daily_units * days if baselines.daily_units else None
    metrics = []
    for metric in plan.metrics:
        spec = specs[metric.name]
        conventions = describe(spec, config)
        power = None
        if metric.role != "guardrail":
            moments = (
                baselines.moments.get(metric.name)
                if baselines.declared_only
                else _moments_for(spec, baselines)
            )
            if moments is None:
                power = {"reason": _no_baseline(spec, baselines)}
            else:
                power = stats.plan_power(
                    _power_spec(spec, baselines),
                    moments,
                    config,
                    tests=tests if spec.in_family else 1,
                    daily_units=baselines.daily_units,
                    available_units=available,
                ).to_dict()
        margin = None
        if metric.margin is not None:
            m = metric.margin
            margin = {
                "kind": m.kind,
                "value": m.amount.fraction,
                "relative": m.relative,
                "text": f"{m.kind.replace('_', ' ')} {m.amount}",
            }
        metrics.append(
            {
                "name": metric.name,
                "label": metric.metric.label or metric.name,
                "role": metric.role,
                "kind": metric.kind,
                "formula": show(metric.formula),
                "bases": list(metric.bases),
                "direction": spec.direction.value,
                "cuped": bool(spec.cuped),
                "margin": margin,
                "conventions": conventions.to_dict(),
                "power": power,
                "definition_file": metric.metric.span.file,
            }
        )
    doc = {
        "schema": SCHEMA,
        "generator": f"metricspec {__version__}",
        "experiment": {
            "name": exp.name,
            "label": exp.label,
            "description": exp.description,
            "owner": exp.owner,
            "file": exp.span.file,
        },
        "design": {
            "unit": plan.unit,
            "assignment": {
                "source": plan.assignment.name,
                "variant_column": plan.variant_column,
                "filter": plan.assignment_filter,
            },
            "variants": [
                {"name": v, "share": w, "control": v == plan.control}
                for v, w in zip(plan.variants, plan.weights, strict=True)
            ],
            "window": {
                "start": plan.local_start.isoformat(),
                "end_exclusive": plan.local_end.isoformat(),
                "days": days,
                **({"timezone": plan.timezone} if plan.timezone else {}),
            },
            "exposure": "each unit's first exposure in the window; units assigned to more than "
            "one variant are excluded and counted; events count from the unit's "
            "first exposure to the end of the window",
            "cuped_pre_period_days": (exp.cuped.seconds / 86400.0) if exp.cuped else None,
            "cuped_pre_period": (
                {"start": from_utc(plan.pre_start, plan.timezone).isoformat(),
                 "end_exclusive": plan.local_start.isoformat(),
                 "rule": "the covariate is the metric over the same dates for every unit, "
                 "before the window start, so it is measured before any unit is exposed"}
                if plan.pre_start is not None else None
            ),
            "segments": list(plan.segments),
            "winsorize": {w.metrics[0].name: w.fraction for w in exp.winsorize},
        },
        "analysis": {
            "alpha": exp.alpha,
            "power": exp.power,
            "mde": (
                {"value": exp.mde.amount.fraction, "relative": exp.mde.relative}
                if exp.mde
                else None
            ),
            "correction": exp.correction,
            "family_size": tests,
            "sequential": config.sequential,
            "sequential_tuning": config.sequential_tuning if config.sequential else None,
            "srm_alpha": exp.srm_alpha,
        },
        "baselines": {
            "source": baselines.source,
            "daily_units": baselines.daily_units,
            "units_in_window": available,
        },
        "metrics": metrics,
        "decision_rules": [
            "If the sample-ratio check fails (χ² p < srm_alpha), the result is invalid: fix "
            "the assignment before reading any metric.",
            "Ship when a primary metric improves significantly (after the correction) and "
            "every guardrail passes its non-inferiority test.",
            "Don't ship when a primary metric worsens significantly or any guardrail fails "
            "(its estimate is beyond the margin).",
            "Otherwise the result is inconclusive: keep running (sequential designs may) or "
            "stop without shipping.",
            "Segment results are exploratory: not corrected and never used for the decision.",
        ],
    }
    doc = extend(doc, config, list(specs.values()), history=not baselines.declared_only)
    return add_regression_power(doc, baselines.regression) if baselines.regression else doc


def _no_baseline(spec: stats.MetricSpec, baselines: Baselines) -> str:
    """Why a metric has no power calculation (never a hint to pass what was passed)."""
    if spec.kind is stats.MetricKind.QUANTILE:
        return "power for percentile metrics is not supported"
    if baselines.declared_only:
        return "no baseline: declare `baseline mean … sd …` on the metric or pass --warehouse"
    return f"no baseline for this metric in {baselines.source}"


def _moments_for(spec: stats.MetricSpec, baselines: Baselines) -> stats.Moments | None:
    """The baseline moments covering every component the metric's analysis reads."""
    if baselines.variant is None:
        return None
    found = baselines.variant.moments_for(spec.components)
    return found if isinstance(found, stats.Moments) else None


def render_markdown(document: dict[str, Any]) -> str:
    """The plan as Markdown, for review in a pull request."""
    return markdown_templates().get_template("analysis_plan.md.j2").render(plan=document)
