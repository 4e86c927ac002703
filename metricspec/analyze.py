"""Analysis: an experiment plan and its sufficient statistics → the statistics engine.

This is the only place that translates the plan's vocabulary (base metrics, formulas, IR
margins) into `metricspec.stats` inputs; the engine itself never sees the IR.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from metricspec import ir, stats
from metricspec.plan import formula as pf
from metricspec.plan.experiment import AnalysisMetric, BaseMetric, ExperimentPlan
from metricspec.plan.regression import RegressionPlan

DEFAULT_TUNING = 10_000.0


def config_for(plan: ExperimentPlan, look: int | None = None) -> stats.ExperimentConfig:
    """The engine's settings for an experiment (``look``: the group-sequential look analysed;
    by default the one the units reached, else the last)."""
    exp = plan.experiment
    mde = stats.Mde(exp.mde.amount.fraction, exp.mde.relative) if exp.mde else None
    design = group_sequential(exp)
    planned = sequential_tuning(plan) if design is not None and exp.traffic else None
    return stats.ExperimentConfig(
        control=plan.control, variants=dict(zip(plan.variants, plan.weights, strict=True)),
        alpha=exp.alpha, power=exp.power, mde=mde, correction=stats.Correction(exp.correction),
        srm_alpha=exp.srm_alpha, sequential=exp.sequential is not None and design is None,
        sequential_tuning=sequential_tuning(plan), name=exp.name, bayesian=bayesian(exp),
        group_sequential=design, look=look if design is not None else None,
        planned_units=planned, strata=exp.stratify.name if exp.stratify else None)


def bayesian(exp: ir.Experiment) -> stats.BayesianSettings | None:
    """The Bayesian analysis of an experiment with `analysis bayesian`."""
    if exp.analysis != "bayesian":
        return None
    prior = stats.BayesianPrior(exp.prior.mean, exp.prior.sd) if exp.prior else None
    return stats.BayesianSettings(prior or stats.BayesianPrior(), exp.chance_to_win,
                                  exp.max_risk)


def group_sequential(exp: ir.Experiment) -> stats.GroupSequentialDesign | None:
    """The group-sequential design of `sequential looks K spending …`, if declared."""
    seq = exp.sequential
    if seq is None or seq.spending is None or seq.looks is None:
        return None
    return stats.GroupSequentialDesign(seq.looks, stats.Spending(seq.spending))


def sequential_tuning(plan: ExperimentPlan) -> float:
    """N* for confidence sequences: the planned total sample (traffic × window), else a
    default; the sequence is tightest there."""
    exp = plan.experiment
    if exp.traffic is None:
        return DEFAULT_TUNING
    days = max(1.0, (plan.local_end - plan.local_start).total_seconds() / 86400.0)
    per_day = exp.traffic.units / (7.0 if exp.traffic.per == "week" else 1.0)
    return max(100.0, per_day * days)


def _direction(metric: ir.Metric) -> stats.Direction:
    return {"up": stats.Direction.INCREASE, "down": stats.Direction.DECREASE}.get(
        metric.direction or "", stats.Direction.NONE)


def _margin(margin: ir.Margin | None) -> stats.Margin | None:
    if margin is None:
        return None
    worse = {"max_increase": stats.Direction.INCREASE,
             "max_decrease": stats.Direction.DECREASE}.get(margin.kind, stats.Direction.NONE)
    return stats.Margin(margin.amount.fraction, margin.relative, worse)


def _value(base: BaseMetric) -> stats.Formula:
    """The engine formula of one base metric's value."""
    if base.kind == "ratio":
        return stats.ratio_of(base.name)
    return stats.mean_of(base.name)


def _formula(formula: pf.Formula, bases: Mapping[str, BaseMetric]) -> stats.Formula:
    def binary(op: str, a: stats.Formula, b: stats.Formula) -> stats.Formula:
        node = {"+": stats.Add, "-": stats.Sub, "*": stats.Mul, "/": stats.Div}[op]
        return node(a, b)

    return pf.fold(formula, stats.Const, lambda name: _value(bases[name]), binary, stats.Neg)


def metric_spec(metric: AnalysisMetric, bases: Mapping[str, BaseMetric]) -> stats.MetricSpec:
    """The engine's description of one experiment metric."""
    role = stats.Role(metric.role)
    direction = _direction(metric.metric)
    margin = _margin(metric.margin)
    if metric.kind == "derived":
        return stats.MetricSpec(metric.name, stats.MetricKind.DERIVED,
                                _formula(metric.formula, bases), role, direction, None, margin)
    base = bases[metric.bases[0]]
    formula = _value(base) if base.name != metric.name else None
    if base.kind == "quantile":
        assert base.quantile is not None
        return stats.MetricSpec(metric.name, stats.MetricKind.QUANTILE, None, role, direction,
                                None, margin, base.quantile.quantile)
    cuped = None
    if base.cuped:
        cuped = {f"{base.name}.x": f"{base.name}.c"}
        if base.kind == "ratio":
            cuped[f"{base.name}.y"] = f"{base.name}.d"
    return stats.MetricSpec(metric.name, stats.MetricKind(base.kind), formula, role, direction,
                            cuped, margin)


def metric_specs(plan: ExperimentPlan) -> list[stats.MetricSpec]:
    bases = {b.name: b for b in plan.bases}
    specs = []
    for m in plan.metrics:
        spec, prior = metric_spec(m, bases), m.metric.prior
        if prior is not None:  # the metric's own prior for Bayesian readouts
            spec = dataclasses.replace(spec, prior=stats.BayesianPrior(prior.mean, prior.sd))
        specs.append(spec)
    return specs


def analyze_rows(plan: ExperimentPlan, rows: Iterable[Mapping[str, Any]],
                 look: int | None = None) -> stats.AnalysisResult:
    """Analyse long-format rows (from the warehouse, or a file) for a planned experiment."""
    data = stats.read_rows(rows, experiment=plan.experiment.name)
    return stats.analyze(config_for(plan, look), metric_specs(plan), data)


def analyze_data(plan: ExperimentPlan, data: stats.ExperimentData,
                 look: int | None = None) -> stats.AnalysisResult:
    return stats.analyze(config_for(plan, look), metric_specs(plan), data)


def diagnose_rows(plan: ExperimentPlan, rows: Iterable[Mapping[str, Any]],
                  result: stats.AnalysisResult | None = None) -> stats.diagnostics.Diagnostics:
    """The diagnostics of the daily query's rows (`emit.experiment_daily`); `result` (the
    main analysis) names a significant trend novelty or primacy by the overall effect."""
    rows = list(rows)
    followed = {str(r["metric"]) for r in rows if r.get("metric") is not None}
    kinds = {b.name: b.kind for b in plan.bases if b.name in followed}
    overall: dict[tuple[str, str], float | None] = {}
    if result is not None:
        for r in result.metrics:
            if r.segment == stats.OVERALL and r.metric in kinds:
                overall[(r.metric, r.treatment.variant)] = (
                    r.absolute.estimate if r.absolute else None)
    exp = plan.experiment
    return stats.diagnostics.diagnose(
        rows, control=plan.control, split=dict(zip(plan.variants, plan.weights, strict=True)),
        kinds=kinds, srm_alpha=exp.srm_alpha, alpha=exp.alpha, overall=overall)


def regress_rows(reg: RegressionPlan, rows: Iterable[Mapping[str, Any]]
                 ) -> list[dict[str, Any]]:
    """Each adjusted metric against control, per treatment, from the regression query's
    rows: OLS with HC1 (equal to statsmodels on the unit rows) and CUPED generalised."""
    plan = reg.plan
    arms: dict[tuple[str, str], tuple[int, dict[tuple[str, ...], float]]] = {}
    for row in rows:
        _, sums = arms.setdefault((str(row["metric"]), str(row["variant"])),
                                  (int(row["n"] or 0), {}))
        sums[tuple(str(row["term"]).split("*"))] = float(row["value"] or 0.0)
    out = []
    names = reg.names
    alpha = plan.experiment.alpha
    for metric, _ in reg.adjusted:
        control = arms.get((metric, plan.control))
        for treatment in plan.variants:
            if treatment == plan.control:
                continue
            other = arms.get((metric, treatment))
            if control is None or other is None:
                continue
            c, t = (stats.regression.ArmSums(n, sums) for n, sums in (control, other))
            out.append({"metric": metric, "treatment": treatment, "covariates": list(names),
                        "ols": stats.regression.ols_adjust(c, t, names, alpha, "HC1"),
                        "cuped": stats.regression.cuped_adjust(c, t, names, alpha)})
    return out


def regression_arms(rows: Iterable[Mapping[str, Any]]
                    ) -> dict[tuple[str, str], stats.regression.ArmSums]:
    """The regression query's rows as sums per (metric, variant)."""
    arms: dict[tuple[str, str], tuple[int, dict[tuple[str, ...], float]]] = {}
    for row in rows:
        _, sums = arms.setdefault((str(row["metric"]), str(row["variant"])),
                                  (int(row["n"] or 0), {}))
        sums[tuple(str(row["term"]).split("*"))] = float(row["value"] or 0.0)
    return {key: stats.regression.ArmSums(n, sums) for key, (n, sums) in arms.items()}
