"""The experiment report: one view of a plan and its analysis, shared by the terminal, JSON
and HTML renderings (so they never disagree)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from metricspec import __version__, stats
from metricspec.plan.experiment import ExperimentPlan
from metricspec.plan.joins import segment_timing
from metricspec.report import fmt
from metricspec.report.diagnostics import adjusted_view, diagnostics_view

REPORT_VERSION = 1


@dataclass(frozen=True)
class MetricRow:
    metric: str
    label: str
    role: str
    kind: str
    treatment: str
    segment: str
    segment_value: str | None
    control: str
    treatment_value: str
    control_n: str  # units in each arm
    treatment_n: str
    absolute: str
    relative: str
    interval: str  # the interval of the test that decides: the absolute difference's
    interval_level: str  # its confidence level (the correction's, e.g. 98.75% for 4 tests)
    p_value: str
    adjusted_p_value: str
    verdict: str
    significant: bool
    note: str
    lift: float | None  # relative lift Δ/|control|
    ci_lower: float | None  # the absolute interval divided by |control| (the forest plot):
    ci_upper: float | None  # it excludes 0 exactly when the verdict is significant


@dataclass(frozen=True)
class GuardrailRow:
    metric: str
    label: str
    treatment: str
    margin: str
    estimate: str
    bound: str
    status: str
    reason: str
    margin_lift: float | None  # the margin as a relative change, for the forest plot


@dataclass(frozen=True)
class ExperimentReport:
    name: str
    label: str
    description: str
    window: str
    unit: str
    variants: str
    warehouse: str
    srm_ok: bool | None  # True passed, False failed, None not run (never True without data)
    srm_status: str  # "passed", "failed" or "not_run"
    srm: str
    decision: str
    reasons: tuple[str, ...]
    metrics: tuple[MetricRow, ...]
    segments: tuple[MetricRow, ...]
    guardrails: tuple[GuardrailRow, ...]
    conventions: tuple[str, ...]
    timings: dict[str, float] = field(default_factory=dict)
    #: what the query read (`run.cost.ScanCost.to_json`) and its one-line summary; None and
    #: "" when the statistics did not come from a query (a file) or the engine does not say
    scan: dict[str, Any] | None = None
    scan_summary: str = ""
    pinned: str = ""  # "definitions pinned: <short hash> (metricspec.lock)" when pinned
    designs: tuple[str, ...] = ()  # Bayesian readouts, the group-sequential look, strata
    # report/diagnostics.py: the split by day and segment, undeclared variants, early
    # exposures and the primaries over time (None: the daily query was not run)
    diagnostics: dict[str, Any] | None = None
    # regression adjustment with the declared covariates (analyze.regress_rows), as data
    adjusted: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


NOT_JUDGED = "not judged"  # the verdict of every row when the sample-ratio check failed


def _margin_amount(margin: float, relative: bool, metric: Any) -> str:
    """A margin in the unit of its estimate: % of control, pp, or the metric's unit."""
    if relative:
        return f"{margin * 100:g}%"
    if metric.format == "percent":
        return f"{margin * 100:g}pp"
    return fmt.value(margin, metric.format, metric.unit)


def _margin_text(g: stats.GuardrailResult, metric: Any) -> str:
    if g.margin is None:
        return "–"
    sign = "+" if g.worse == "increase" else "−"
    return f"at most {sign}{_margin_amount(g.margin, g.margin_relative, metric)}"


def _scaled(x: float | None, relative: bool, metric: Any) -> str:
    if x is None:
        return "–"
    return fmt.lift(x) if relative else fmt.delta(x, metric.format, metric.unit)


def guardrail_reason(g: stats.GuardrailResult, metric: Any) -> str:
    """The guardrail's reason with its numbers in the metric's own units (the analysis
    words it in raw decimals: "relative increase 0.2895 is beyond the margin 0.1")."""
    if g.margin is None or g.estimate is None or g.bound is None:
        return g.reason
    sign = 1.0 if g.worse == "increase" else -1.0
    e, upper = sign * g.estimate, sign * g.bound

    def amount(x: float) -> str:
        return _scaled(x, g.margin_relative, metric)

    scale = "relative" if g.margin_relative else "absolute"
    margin = _margin_amount(g.margin, g.margin_relative, metric)
    if g.status is stats.GuardrailStatus.PASS:
        return (f"{scale} {g.worse} is at most {amount(upper)} (one-sided), within the margin "
                f"{margin}")
    if g.status is stats.GuardrailStatus.FAIL:
        return f"estimated {scale} {g.worse} {amount(e)} is beyond the margin {margin}"
    if g.status is stats.GuardrailStatus.INCONCLUSIVE:
        return (f"estimated {scale} {g.worse} {amount(e)} is within the margin {margin} but "
                f"its one-sided bound {amount(upper)} is not")
    return g.reason


def _reasons(result: stats.AnalysisResult, metrics: dict[str, Any]) -> tuple[str, ...]:
    """The decision's reasons, each guardrail's part reworded in the metric's units."""
    human = {(g.treatment, g.metric): (g.reason, guardrail_reason(g, metrics[g.metric]))
             for g in result.guardrails if g.segment == stats.OVERALL and g.metric in metrics}
    reasons = []
    for reason in result.decision.reasons:
        for (treatment, metric), (raw, text) in human.items():
            if (reason.startswith(f"{treatment}: guardrail {metric} ") and raw
                    and reason.endswith(raw)):
                reason = reason[: len(reason) - len(raw)] + text
                break
        reasons.append(reason)
    return tuple(reasons)


def build_report(plan: ExperimentPlan, result: stats.AnalysisResult, *, warehouse: str,
                 timings: dict[str, float] | None = None, scan: Any = None,
                 pinned: str = "",
                 diagnostics: stats.diagnostics.Diagnostics | None = None,
                 adjusted: list[dict[str, Any]] | None = None) -> ExperimentReport:
    """Combine the plan (labels, formats) with the analysis into one report; ``scan``: what
    the query read (a `run.cost.ScanCost`), when known."""
    exp = plan.experiment
    metrics = {m.name: m.metric for m in plan.metrics}
    srm = result.srm
    judged = srm.status is not stats.SrmStatus.FAILED
    rows = [_row(r, metrics[r.metric], judged) for r in result.metrics]
    guardrails = tuple(_guardrail(g, metrics[g.metric], result, judged)
                       for g in result.guardrails if g.segment == stats.OVERALL)
    settings = result.settings
    conventions = (
        f"alpha {exp.alpha:g}, two-sided; {settings.get('correction', 'none')} correction over "
        f"{settings.get('family_size')} primary and secondary test(s)",
        "always-valid confidence sequences (peeking allowed), N* = "
        f"{settings.get('sequential_tuning'):,.0f}" if settings.get("sequential")
        else settings["group_sequential"]["design"] if settings.get("group_sequential")
        else "fixed-horizon intervals (analyse once, at the end)",
        f"CUPED with a {exp.cuped} pre-period" if exp.cuped else "no variance reduction",
        "guardrails: one-sided non-inferiority tests against their margins",
        "segments are exploratory (not corrected, not used in the decision)",
        *_segment_timing(plan),
    )
    window = f"{plan.local_start:%Y-%m-%d} → {plan.local_end:%Y-%m-%d} (exclusive)" + (
        f" ({plan.timezone})" if plan.timezone else "")
    variants = ", ".join(f"{v} {w * 100:g}%{' (control)' if v == plan.control else ''}"
                         for v, w in zip(plan.variants, plan.weights, strict=True))
    return ExperimentReport(
        name=exp.name, label=exp.label or exp.name, description=exp.description or "",
        window=window, unit=plan.unit, variants=variants, warehouse=warehouse,
        srm_ok={"passed": True, "failed": False}.get(srm.status.value),
        srm_status=srm.status.value, srm=_srm_text(srm), decision=str(result.decision.outcome),
        reasons=(*_reasons(result, metrics),
                 *(f"warning: {c.message}" for c in result.simpson)),
        metrics=tuple(r for r in rows if r.segment == stats.OVERALL),
        segments=tuple(r for r in rows if r.segment != stats.OVERALL),
        guardrails=guardrails, conventions=conventions, timings=dict(timings or {}),
        scan=scan.to_json() if scan is not None else None,
        scan_summary=scan.summary() if scan is not None else "", pinned=pinned,
        designs=design_lines(result, metrics),
        diagnostics=None if diagnostics is None else diagnostics_view(plan, diagnostics),
        adjusted=adjusted_view(plan, adjusted or []))


def design_lines(result: stats.AnalysisResult, metrics: dict[str, Any]) -> tuple[str, ...]:
    """One line per Bayesian readout of an overall metric, the look, and the strata."""
    settings, lines = result.settings, []
    look = settings.get("group_sequential")
    if look:
        state = "final look" if look["final"] else "interim look: continue unless rejected"
        lines.append(f"Look {look['look']} ({look['fraction']:.0%} of the planned units): "
                     f"reject when |z| ≥ {look['boundary']:.3f}; {state}")
    for r in result.metrics:
        shown = r.bayesian is not None and not r.exploratory and r.role != "guardrail"
        post = r.bayesian.relative if shown else None
        if post is None or post.chance_to_win is None:
            continue
        label = metrics[r.metric].label or r.metric
        lines.append(
            f"{label} ({r.treatment.variant}): chance to win {post.chance_to_win:.1%}, "
            f"risk {post.risk_treatment:.2%}, lift {fmt.lift(post.mean)} "
            f"[{fmt.lift(post.ci_lower)}, {fmt.lift(post.ci_upper)}] "
            f"({r.bayesian.ci_level:.0%} credible)")
    if settings.get("bayesian"):
        lines.append(f"Bayesian rule ({settings['bayesian']['prior']}): "
                     f"{settings['bayesian']['rule']}")
    strata = settings.get("poststratification")
    if strata:
        done = [k for k, v in strata["metrics"].items() if v.startswith("post-stratified")]
        lines.append(f"Post-stratified by {strata['dimension']}: "
                     f"{', '.join(done) if done else 'no metric (means and proportions only)'}")
    return tuple(lines)


def _segment_timing(plan: ExperimentPlan) -> tuple[str, ...]:
    """Which segment attributes are pre-exposure (issue 11)."""
    if not plan.segments:
        return ()
    before, current = segment_timing(plan.assignment, plan.segment_joins, plan.segments)
    notes = []
    if before:
        notes.append("pre-exposure segments (as of each unit's first exposure): "
                     + ", ".join(before))
    if current:
        notes.append("segments read at their current value, which the treatment may have "
                     "changed: " + ", ".join(current))
    return tuple(notes)


def _srm_text(srm: stats.SrmResult) -> str:
    """The sample-ratio line: passed, MISMATCH or not run, with the counts and the reason."""
    observed = ", ".join(f"{v} {fmt.count(n)}" for v, n in srm.observed.items())
    expected = "/".join(f"{share * 100:g}" for share in srm.expected_share.values())
    if srm.status is stats.SrmStatus.NOT_RUN:
        text = f"not run: {srm.reason}"
        if observed:
            text += f" ({observed}; expected {expected})"
    else:
        word = "MISMATCH" if srm.status is stats.SrmStatus.FAILED else "passed"
        text = f"{word}: {observed} (expected {expected}), χ² {fmt.p_equals(srm.p_value)}"
        if srm.reason:
            text += f"; {srm.reason}"
    if srm.excluded_multiple:
        text += f"; {srm.excluded_multiple} units seen in more than one variant excluded"
    return text


def _interval(r: stats.MetricResult, metric: Any) -> tuple[str, str, float | None, float | None]:
    """The deciding (absolute) interval as text, its level, and on the relative scale."""
    ab = r.absolute
    if ab is None or ab.ci_lower is None or ab.ci_upper is None:
        return "–", "", None, None
    text = (f"[{fmt.delta(ab.ci_lower, metric.format, metric.unit)}, "
            f"{fmt.delta(ab.ci_upper, metric.format, metric.unit)}]")
    level = f"{r.conventions.ci_level * 100:.4g}%" if r.conventions else ""
    if level and level != "95%":  # a corrected (or non-default) level is said in the cell
        text += f" at {level}"
    base = r.control.unadjusted_value
    if not base:
        return text, level, None, None
    return text, level, ab.ci_lower / abs(base), ab.ci_upper / abs(base)


def _row(r: stats.MetricResult, metric: Any, judged: bool = True) -> MetricRow:
    """One metric's row; with ``judged`` False (the split is broken) it carries no verdict."""
    rel, ab = r.relative, r.absolute
    interval, level, lo, hi = _interval(r, metric)
    note = r.reason or ""
    if r.cuped and r.cuped.variance_reduction and r.cuped.variance_reduction >= 0.005:
        note = (note + "; " if note else "") + (
            f"CUPED −{r.cuped.variance_reduction * 100:.0f}% variance")
    if r.conventions and "approx" in r.conventions.test.lower():
        note = (note + "; " if note else "") + "approximate"
    return MetricRow(
        metric=r.metric, label=metric.label or r.metric, role=r.role, kind=r.kind,
        treatment=r.treatment.variant, segment=r.segment, segment_value=r.segment_value,
        control=fmt.value(r.control.value, metric.format, metric.unit),
        treatment_value=fmt.value(r.treatment.value, metric.format, metric.unit),
        control_n=fmt.count(r.control.n), treatment_n=fmt.count(r.treatment.n),
        absolute=fmt.delta(ab.estimate if ab else None, metric.format, metric.unit),
        relative=fmt.lift(rel.estimate if rel else None),
        interval=interval, interval_level=level,
        p_value=fmt.p_value(r.p_value), adjusted_p_value=fmt.p_value(r.adjusted_p_value),
        verdict=str(r.verdict) if judged else NOT_JUDGED,
        significant=r.significant and judged,
        note=note if judged else "sample-ratio mismatch",
        lift=rel.estimate if rel else None, ci_lower=lo, ci_upper=hi)


def _guardrail(g: stats.GuardrailResult, metric: Any, result: stats.AnalysisResult,
               judged: bool = True) -> GuardrailRow:
    margin_lift = None
    if g.margin is not None:
        try:
            control = result.metric(g.metric, g.treatment).control.unadjusted_value
        except KeyError:
            control = None
        margin_lift = _margin_lift(g.margin, relative=g.margin_relative, worse=g.worse,
                                   control=control)
    return GuardrailRow(
        metric=g.metric, label=metric.label or g.metric, treatment=g.treatment,
        margin=_margin_text(g, metric), estimate=_scaled(g.estimate, g.margin_relative, metric),
        bound=_scaled(g.bound, g.margin_relative, metric),
        status=str(g.status) if judged else NOT_JUDGED,
        reason=guardrail_reason(g, metric) if judged else "sample-ratio mismatch",
        margin_lift=margin_lift)


def _margin_lift(margin: float, *, relative: bool, worse: str,
                 control: float | None) -> float | None:
    """A guardrail margin as a relative change (lifts divide by |control|), for the plot."""
    signed = margin if worse == "increase" else -margin
    if relative:
        return signed
    return signed / abs(control) if control else None


def report_json(report: ExperimentReport, result: stats.AnalysisResult) -> dict[str, Any]:
    """The machine-readable report: the formatted view plus the raw analysis."""
    return {"version": REPORT_VERSION, "generator": f"metricspec {__version__}",
            "report": report.to_dict(), "analysis": result.to_dict()}
