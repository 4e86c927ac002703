"""Power for the regression adjustment in the analysis plan: the sample the experiment
needs once its metrics are adjusted for the declared `covariates`, from the share of each
metric's variance the covariates explained over the historical window
(`metricspec.stats.power_regression`).

The sums come from the regression query run over the same historical window as the
baselines (`history_plan`: every active unit, one population, no treatment split); the
warehouse returns sums, never unit rows. `add_regression_power` adds a `regression`
section beside each metric's unadjusted (or CUPED) sample size, and warnings when history
says nothing about a covariate or a metric.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from metricspec.analyze import regression_arms
from metricspec.plan.regression import RegressionPlan
from metricspec.stats.power_regression import Explained, adjusted_sample, explained

__all__ = ["CAVEAT", "RegressionHistory", "add_regression_power"]

CAVEAT = ("n·(1 − R²) assumes the covariates explain as much of the metric in the experiment "
          "as over the history; the slopes are estimated from the experiment's units, which "
          "adds 1 + p/(N − p − 3) (p covariates, N units: negligible unless N is small), "
          "included above")


@dataclass(frozen=True)
class RegressionHistory:
    """R² of each adjusted metric on the covariates over the historical window."""

    covariates: tuple[str, ...]
    explained: Mapping[str, Explained]
    source: str

    @classmethod
    def from_rows(cls, reg: RegressionPlan, rows: Iterable[Mapping[str, Any]],
                  source: str) -> RegressionHistory:
        """From the regression query's rows over a historical plan (`history_plan`)."""
        arms = regression_arms(rows)
        out: dict[str, Explained] = {}
        for metric, _ in reg.adjusted:
            arm = arms.get((metric, reg.plan.control))
            out[metric] = (explained(arm, reg.names) if arm is not None and arm.n > 0 else
                           Explained(0, None, reason="no units in the historical window"))
        return cls(reg.names, out, source)


def _section(power: dict[str, Any], found: Explained, covariates: list[str]
             ) -> dict[str, Any]:
    r2 = found.r_squared
    assert r2 is not None
    out: dict[str, Any] = {"covariates": covariates, "r_squared": r2,
                           "history_units": found.units, "variance_factor": 1.0 - r2}
    exact = power.get("exact_per_variant") or {}
    if not exact:
        return out  # no effect to size: R² alone
    cuped = power.get("variance_reduction")
    # the plan's sample is CUPED-adjusted when the metric is: undo it for the unadjusted one
    scale = 1.0 / (1.0 - cuped) if cuped is not None and cuped < 1.0 else 1.0
    unadjusted = {v: x * scale for v, x in exact.items()}
    per, factor = adjusted_sample(unadjusted, r2, len(covariates))
    n = {v: max(math.ceil(x - 1e-9), 1) for v, x in per.items()}
    days = power.get("duration_days")
    out.update({
        "slope_inflation": factor / (1.0 - r2) if r2 < 1.0 else None,
        "unadjusted_per_variant": {v: math.ceil(x - 1e-9) for v, x in unadjusted.items()},
        "unadjusted_total_units": sum(math.ceil(x - 1e-9) for x in unadjusted.values()),
        "exact_per_variant": per,
        "n_per_variant": n,
        "total_units": sum(n.values()),
        "duration_days": days * scale * factor if days is not None else None,
        "caveat": CAVEAT,
    })
    return out


def add_regression_power(doc: dict[str, Any], history: RegressionHistory) -> dict[str, Any]:
    """Add each adjusted metric's `power.regression` and the warnings of missing history."""
    covariates = list(history.covariates)
    doc["baselines"]["regression"] = {"covariates": covariates, "source": history.source}
    warnings: list[dict[str, str]] = doc.setdefault("warnings", [])
    for m in doc["metrics"]:
        found = history.explained.get(m["name"])
        power = m.get("power")
        if found is None or not power or power.get("reason"):
            continue
        if found.r_squared is None:
            power["regression"] = {"covariates": covariates, "reason": found.reason}
            warnings.append({
                "code": "covariate_history_missing",
                "message": f"{m['name']}: no variance reduction from the covariates "
                f"({', '.join(covariates)}) could be measured: {found.reason}; the sample "
                "size is the unadjusted one"})
            continue
        power["regression"] = _section(power, found, covariates)
        for name in found.constant:
            warnings.append({
                "code": "covariate_history_missing",
                "message": f"{m['name']}: covariate {name} is constant over "
                f"{found.units:,} units of history (no rows for it there?), so it explains "
                "nothing in this estimate"})
    return doc
