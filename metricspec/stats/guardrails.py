"""Guardrails: one-sided non-inferiority tests against a declared margin.

Orient the effect so that positive means worse: e = +effect if an increase is bad, −effect
if a decrease is bad. With margin M (the largest tolerated worsening, on the relative-lift
or absolute-difference scale) and U the one-sided (1 − α) upper bound of e
(e + t₁₋α(df)·se, or the one-sided confidence sequence when sequential):

* pass — U < M: the treatment is shown not to be worse than the margin (H0: e ≥ M is
  rejected; equivalently the one-sided p-value is below α);
* fail — e ≥ M: the point estimate is already beyond the margin;
* inconclusive — otherwise: the estimate is inside the margin but the bound is not
  (typically too little data).

A guardrail without a margin is an inferiority check: it fails when the treatment is
significantly worse (one-sided lower bound of e above 0) and passes otherwise. Guardrails
are outside the multiple-testing family and use the unadjusted α.
"""

from __future__ import annotations

import math

import numpy as np

from metricspec.stats.inference import cdf, quantile
from metricspec.stats.results import GuardrailResult, GuardrailStatus
from metricspec.stats.sequential import cs_one_sided_halfwidth
from metricspec.stats.spec import Direction, MetricSpec

__all__ = ["guardrail_test"]


def _one_sided(
    e: float, se: float, df: float, alpha: float, sequential: tuple[float, float] | None
) -> float:
    """Return the one-sided (1 − alpha) half-width for an estimate with ``se``."""
    if sequential is None:
        return float(quantile(1.0 - alpha, np.asarray(df)) * se)
    n, r = sequential
    return float(cs_one_sided_halfwidth(np.asarray(se), np.asarray(n), alpha, r))


def _sequential_p(gap: float, se: float, n: float, r: float) -> float:
    """Return the smallest α whose one-sided sequence bound e + h(α) lies below the margin.

    ``gap`` = M − e must be positive; h(α)² = se²·n·2(nρ²+1)/(nρ)²·log(1 + √(nρ²+1)/(2α)).
    """
    nr2 = n * r * r
    scale = se * se * n * 2.0 * (nr2 + 1.0) / (nr2 * n)
    log_term = gap * gap / scale
    if log_term > 700.0:
        return 0.0
    return min(1.0, math.sqrt(nr2 + 1.0) / (2.0 * math.expm1(log_term)))


def guardrail_test(
    spec: MetricSpec,
    *,
    treatment: str,
    segment: str,
    segment_value: str | None,
    estimate: float | None,
    se: float | None,
    df: float | None,
    alpha: float,
    sequential: tuple[float, float] | None,
    reason: str | None = None,
) -> GuardrailResult:
    """Return the guardrail status of one comparison.

    Args:
        spec: The guardrail metric (its margin decides the scale and the bad direction).
        treatment: Treatment variant.
        segment: Segment name.
        segment_value: Segment value.
        estimate: Relative lift if the margin is relative, else absolute difference.
        se: Standard error of ``estimate``.
        df: Degrees of freedom (∞ for z).
        alpha: One-sided level.
        sequential: (total n, one-sided ρ) when confidence sequences are used.
        reason: Why no estimate is available, if so.
    """
    margin = spec.margin
    worse = spec.worse_direction
    relative = margin.relative if margin is not None else True
    test = "one-sided confidence sequence" if sequential else "one-sided t / z"

    def result(
        status: GuardrailStatus, why: str, bound: float | None = None, p: float | None = None
    ) -> GuardrailResult:
        return GuardrailResult(
            spec.name,
            treatment,
            segment,
            segment_value,
            segment != "all",
            None if margin is None else margin.value,
            relative,
            worse.value,
            estimate,
            bound,
            p,
            status,
            why,
            test,
        )

    if worse is Direction.NONE:
        return result(GuardrailStatus.INSUFFICIENT, "guardrail has no bad direction")
    if reason is not None or estimate is None or se is None or df is None:
        return result(GuardrailStatus.INSUFFICIENT, reason or "no estimate")
    if not (math.isfinite(estimate) and math.isfinite(se) and se > 0.0):
        return result(GuardrailStatus.INSUFFICIENT, "standard error is zero or not finite")
    sign = 1.0 if worse is Direction.INCREASE else -1.0
    e = sign * estimate
    half = _one_sided(e, se, df, alpha, sequential)
    scale = "relative" if relative else "absolute"
    if margin is None:
        lower = e - half
        p_worse = float(1.0 - cdf(np.asarray(e / se), np.asarray(df)))
        if sequential is not None:
            p_worse = 1.0 if e <= 0 else _sequential_p(e, se, *sequential)
        if lower > 0.0:
            return result(
                GuardrailStatus.FAIL,
                f"significant {worse.value} (no margin declared)",
                sign * lower,
                p_worse,
            )
        return result(
            GuardrailStatus.PASS,
            f"no significant {worse.value} (no margin declared; non-inferiority not shown)",
            sign * lower,
            p_worse,
        )
    m = margin.value
    upper = e + half
    if sequential is not None:
        p = 1.0 if e >= m else _sequential_p(m - e, se, *sequential)
    else:
        p = float(cdf(np.asarray((e - m) / se), np.asarray(df)))
    bound = sign * upper
    if upper < m:
        why = f"{scale} {worse.value} is at most {upper:.4g} (one-sided), within the margin {m:g}"
        return result(GuardrailStatus.PASS, why, bound, p)
    if e >= m:
        why = f"estimated {scale} {worse.value} {e:.4g} is beyond the margin {m:g}"
        return result(GuardrailStatus.FAIL, why, bound, p)
    why = (
        f"estimated {scale} {worse.value} {e:.4g} is within the margin {m:g} "
        f"but its one-sided bound {upper:.4g} is not"
    )
    return result(GuardrailStatus.INCONCLUSIVE, why, bound, p)
