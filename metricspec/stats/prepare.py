"""Turn a metric's data in one segment into (control, treatment) summary pairs.

This is the general path, for every metric kind and every formula: each kind picks its
estimator and variance (and thus its convention) here, and every data problem becomes a
reason. `batch` is a vectorised shortcut for the common shapes that must give the same
numbers. Everything after this step is the same vectorised comparison for every kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from metricspec.stats.conventions import Method, method_for
from metricspec.stats.cuped import CupedArm, CupedFit, cuped_arm, cuped_fit
from metricspec.stats.data import SegmentData, VariantData
from metricspec.stats.formula import Component
from metricspec.stats.moments import Moments
from metricspec.stats.quantile import quantile_summary
from metricspec.stats.spec import MetricKind, MetricSpec
from metricspec.stats.summary import VariantSummary, delta_summary, proportion_summary

__all__ = ["Prepared", "finish", "prepare"]


@dataclass(frozen=True, slots=True)
class Prepared:
    """One comparison ready for inference, or the reason it cannot be made."""

    spec: MetricSpec
    segment: SegmentData
    control: str
    treatment: str
    method: Method
    n_control: float | None
    n_treatment: float | None
    pair: tuple[VariantSummary, VariantSummary] | None
    use_t: bool
    plugin_adjusted: bool
    cuped: CupedFit | None
    reason: str | None


def _moments(spec: MetricSpec, data: VariantData) -> Moments | str:
    return data.moments_for(spec.components)


def _single(
    spec: MetricSpec, variant: str, data: VariantData | None
) -> tuple[VariantSummary | str, float | None]:
    """Return one arm's summary (or a reason) and its sample size, without CUPED."""
    if data is None:
        return f"no data for variant {variant!r}", None
    if spec.kind is MetricKind.QUANTILE:
        key = spec.source or spec.name
        q = data.quantiles.get(key)
        if q is None:
            return f"no quantile statistics for {key}", None
        return quantile_summary(q, spec.quantile_level or 0.5), q.n_events
    formula = spec.formula
    assert formula is not None
    m = _moments(spec, data)
    if isinstance(m, str):
        return m, None
    if spec.kind is MetricKind.PROPORTION:
        if not isinstance(formula, Component):
            return "a proportion metric must be the mean of one 0/1 component", m.n
        return proportion_summary(formula.name, m), m.n
    return delta_summary(formula, m), m.n


def prepare(
    spec: MetricSpec, segment: SegmentData, control: str, treatments: Sequence[str]
) -> list[Prepared]:
    """Return the prepared comparisons of each treatment against control for one metric."""
    method = method_for(spec)
    out: list[Prepared] = []
    if not spec.cuped or spec.kind is MetricKind.QUANTILE:
        sc, nc = _single(spec, control, segment.variants.get(control))
        for t in treatments:
            st, nt = _single(spec, t, segment.variants.get(t))
            out.append(finish(spec, segment, control, t, method, sc, st, nc, nt, None))
        return out
    formula, covariates = spec.formula, spec.cuped
    assert formula is not None
    pre = formula.substitute(covariates)

    def arm(variant: str) -> tuple[CupedArm | str, float | None]:
        data = segment.variants.get(variant)
        if data is None:
            return f"no data for variant {variant!r}", None
        m = _moments(spec, data)
        if isinstance(m, str):
            return m, None
        return cuped_arm(formula, pre, m), m.n

    ac, nc = arm(control)
    for t in treatments:
        at, nt = arm(t)
        if isinstance(ac, str) or isinstance(at, str):
            reason = f"control: {ac}" if isinstance(ac, str) else f"treatment: {at}"
            out.append(_failed(spec, segment, control, t, method, reason, nc, nt))
            continue
        fit = cuped_fit(formula, pre, ac, at)
        if isinstance(fit, str):
            out.append(_failed(spec, segment, control, t, method, fit, nc, nt))
            continue
        out.append(
            finish(spec, segment, control, t, method, fit.control, fit.treatment, nc, nt, fit)
        )
    return out


def _failed(
    spec: MetricSpec,
    segment: SegmentData,
    control: str,
    treatment: str,
    method: Method,
    reason: str,
    nc: float | None,
    nt: float | None,
) -> Prepared:
    use_t = method.test == "welch_t"
    return Prepared(
        spec, segment, control, treatment, method, nc, nt, None, use_t, False, None, reason
    )


def finish(
    spec: MetricSpec,
    segment: SegmentData,
    control: str,
    treatment: str,
    method: Method,
    sc: VariantSummary | str,
    st: VariantSummary | str,
    nc: float | None,
    nt: float | None,
    fit: CupedFit | None,
) -> Prepared:
    """Return the prepared comparison from two arm summaries, or the reason it is unusable."""
    reason: str | None = None
    if isinstance(sc, str):
        reason = f"control: {sc}"
    elif isinstance(st, str):
        reason = f"treatment: {st}"
    elif not (sc.is_finite() and st.is_finite()):
        reason = "statistics are not finite"
    elif sc.var <= 0.0 and st.var <= 0.0:
        reason = "zero variance in both arms"
    elif sc.base == 0.0:
        reason = "control value is zero; relative lift undefined"
    if reason is not None or isinstance(sc, str) or isinstance(st, str):
        return _failed(spec, segment, control, treatment, method, reason or "", nc, nt)
    use_t = method.test == "welch_t"
    plugin = fit.relative_plugin_adjusted if fit is not None else True
    return Prepared(
        spec, segment, control, treatment, method, nc, nt, (sc, st), use_t, plugin, fit, None
    )
