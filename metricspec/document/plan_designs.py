"""The analysis plan's design sections and warnings: Bayesian rule, group-sequential
boundaries, sequential sample-size inflation, and the structured warnings of a plan that does
not fit its window, traffic or history.

`build_plan` (analysis_plan.py) calls `extend` on the finished document; everything here
reads that document and the engine's configuration, so the plan's own numbers stay the one
source.
"""

from __future__ import annotations

import math
from typing import Any

from metricspec import stats
from metricspec.stats.group_sequential import spent
from metricspec.stats.power_sequential import cs_inflation, design_inflation

__all__ = ["extend"]


def _group_sequential(config: stats.ExperimentConfig, alpha: float) -> dict[str, Any] | None:
    design = config.group_sequential
    if design is None:
        return None
    bounds = design.bounds(alpha)
    looks = [
        {
            "look": k,
            "fraction": t,
            "boundary": b,
            "nominal_alpha": 2 * _upper_tail(b),
            "alpha_spent": spent(t, alpha, design.spending),
        }
        for k, (t, b) in enumerate(zip(design.planned, bounds, strict=True), start=1)
    ]
    return {
        "design": design.describe(),
        "looks": design.looks,
        "spending": design.spending.value,
        "alpha": alpha,
        "boundaries": looks,
        "planned_units": config.planned_units,
        "rule": "at look k, reject H₀ when |z| ≥ b_k (stop for that metric); otherwise "
        "continue to the next look; intervals are repeated confidence intervals ± b_k·SE",
    }


def _upper_tail(x: float) -> float:
    """P(Z > x) for a standard normal Z."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def _bayesian(
    config: stats.ExperimentConfig, specs: list[stats.MetricSpec]
) -> dict[str, Any] | None:
    b = config.bayesian
    if b is None:
        return None
    return {
        **b.summary(),
        "model": "Gaussian posterior of the effect from its estimate and standard error "
        "(gbstats' effect model); the prior is on the relative lift, rescaled by the "
        "control value for the absolute readout",
        "metric_priors": {s.name: s.prior.describe() for s in specs if s.prior is not None},
    }


def _inflate(power: dict[str, Any], factor: float, method: str) -> None:
    exact = {v: n * factor for v, n in power.get("exact_per_variant", {}).items()}
    n = {v: math.ceil(x - 1e-9) for v, x in exact.items()}
    days = power.get("duration_days")
    power["sequential"] = {
        "method": method,
        "inflation": factor,
        "n_per_variant": n,
        "total_units": sum(n.values()),
        "duration_days": days * factor if days is not None else None,
    }


def _sequential_power(doc: dict[str, Any], config: stats.ExperimentConfig) -> None:
    for m in doc["metrics"]:
        power = m.get("power")
        if not power or power.get("reason") or not power.get("exact_per_variant"):
            continue
        alpha, target = power["alpha_per_test"], power["power"]
        if config.group_sequential is not None:
            factor = design_inflation(config.group_sequential, alpha, target)
            _inflate(power, factor, f"{config.group_sequential.describe()}: maximum sample")
        elif config.sequential:
            total = sum(power["exact_per_variant"].values())
            factor = cs_inflation(
                total, alpha, target, nominal_alpha=config.alpha, tuning=config.sequential_tuning
            )
            _inflate(power, factor, "confidence sequence: power at the end of the window")


def _needed(power: dict[str, Any]) -> tuple[int | None, float | None]:
    seq = power.get("sequential")
    if seq:
        return seq["total_units"], seq["duration_days"]
    return power.get("total_units"), power.get("duration_days")


def _warnings(doc: dict[str, Any], history: bool) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    days = doc["design"]["window"]["days"]
    available = doc["baselines"]["units_in_window"]
    mde = doc["analysis"]["mde"]
    if history and doc["baselines"]["daily_units"] is None:
        out.append(
            {
                "code": "history_missing",
                "message": f"no history: {doc['baselines']['source']} returned no exposed "
                "units, so no baseline or traffic was measured (is the history window before "
                "the data?)",
            }
        )
    for m in doc["metrics"]:
        power = m.get("power") or {}
        if history and power.get("reason"):
            out.append({"code": "history_missing", "message": f"{m['name']}: {power['reason']}"})
        total, need_days = _needed(power)
        if total is not None and available is not None and total > available:
            when = f" ({need_days:,.0f} days)" if need_days is not None else ""
            out.append(
                {
                    "code": "sample_exceeds_window",
                    "message": f"{m['name']}: the plan needs {total:,} units{when}, the window "
                    f"({days:g} days) brings about {available:,.0f}",
                }
            )
        elif total is not None and available is None:
            out.append(
                {
                    "code": "traffic_unknown",
                    "message": f"{m['name']}: the plan needs {total:,} units; declare `traffic` or "
                    "pass --warehouse to know whether the window brings them",
                }
            )
        detectable = power.get("mde_relative" if mde and mde["relative"] else "mde_absolute")
        if mde and detectable is not None:
            seq = power.get("sequential")  # δ scales with 1/√n: a sequential design sees less
            detectable *= math.sqrt(seq["inflation"]) if seq else 1.0
            if mde["value"] < detectable:
                scale = "relative" if mde["relative"] else "absolute"
                out.append(
                    {
                        "code": "mde_below_detectable",
                        "message": f"{m['name']}: the MDE of {mde['value']:.3g} ({scale}) is below "
                        f"the {detectable:.3g} the traffic in the window can detect",
                    }
                )
    return out


def extend(
    doc: dict[str, Any],
    config: stats.ExperimentConfig,
    specs: list[stats.MetricSpec],
    *,
    history: bool,
) -> dict[str, Any]:
    """Add the design sections, sequential power and warnings to a plan document."""
    family = doc["analysis"]["family_size"]
    split = config.correction is not stats.Correction.NONE and family > 1
    alpha = config.alpha / family if split else config.alpha
    doc["analysis"]["group_sequential"] = _group_sequential(config, alpha)
    doc["analysis"]["bayesian"] = _bayesian(config, specs)
    doc["design"]["strata"] = (
        {
            "dimension": config.strata,
            "rule": "means, proportions and ratios without CUPED are post-stratified over the "
            "dimension's values (weights: the observed shares); other metrics are not",
        }
        if config.strata
        else None
    )
    _sequential_power(doc, config)
    if config.bayesian is not None:
        doc["decision_rules"].insert(
            1, f"Bayesian readouts decide primary and secondary verdicts: {config.bayesian.rule()}."
        )
    if config.group_sequential is not None:
        doc["decision_rules"].insert(
            1, f"Group-sequential looks: {doc['analysis']['group_sequential']['rule']}."
        )
    doc["warnings"] = _warnings(doc, history)
    return doc
