"""The ship decision: from the sample-ratio check, the primary metrics and the guardrails.

Rules, per treatment, first match wins (overall population only; segments are exploratory):

1. invalid — the sample-ratio check is flagged: do not trust any result;
2. don't ship — a guardrail fails, or a primary metric is significantly worse (loss);
3. inconclusive — a primary metric has insufficient data, is not significant, or has no
   desired direction; or a guardrail is inconclusive or lacks data;
4. ship — every primary metric is significant in its desired direction after correction
   and every guardrail passes.

Overall: cannot analyse when there is no usable data at all (no rows, no exposed units,
none of the declared variants: the engine says which); invalid if the check is flagged;
ship if some treatment ships (recommending the one with the best first-primary relative
lift in the metric's desired direction); don't ship if every treatment is "don't ship";
inconclusive otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

from metricspec.stats.results import (
    Decision,
    GuardrailResult,
    GuardrailStatus,
    MetricResult,
    Outcome,
    SrmResult,
    TreatmentDecision,
    Verdict,
)

__all__ = ["decide"]


def _p(x: float | None) -> str:
    """``= 0.0123`` or ``< 0.0001`` (never a raw exponent): the p-value as a reader writes it."""
    if x is None:
        return "= n/a"
    return "< 0.0001" if x < 1e-4 else f"= {x:.3g}"


def _bayes(m: MetricResult) -> str:
    r = m.bayesian.relative
    return (
        f"chance to win {r.chance_to_win:.1%}, risk {r.risk_treatment:.3%} of control"
        if r.chance_to_win is not None and r.risk_treatment is not None
        else "no posterior"
    )


def _treatment(
    treatment: str,
    srm: SrmResult,
    primaries: Sequence[MetricResult],
    guardrails: Sequence[GuardrailResult],
    declared: bool,
) -> TreatmentDecision:
    if srm.flagged:
        why = (
            f"sample-ratio mismatch: {srm.reason} (χ² p {_p(srm.p_value)})"
            if srm.reason
            else f"sample-ratio mismatch (χ² p {_p(srm.p_value)}, threshold {srm.srm_alpha:g})"
        )
        return TreatmentDecision(treatment, Outcome.INVALID, (why,))
    blockers: list[str] = []
    doubts: list[str] = []
    wins: list[str] = []
    for g in guardrails:
        if g.status is GuardrailStatus.FAIL:
            blockers.append(f"guardrail {g.metric} failed: {g.reason}")
        elif g.status is not GuardrailStatus.PASS:
            doubts.append(f"guardrail {g.metric} {g.status.value}: {g.reason}")
    for m in primaries:
        p = m.adjusted_p_value
        if m.bayesian is not None:
            why = _bayes(m)
            if m.verdict is Verdict.LOSS:
                blockers.append(f"primary {m.metric} is probably worse ({why})")
            elif m.verdict is Verdict.WIN:
                wins.append(f"primary {m.metric} improved ({why})")
            elif m.verdict is Verdict.CHANGED:
                doubts.append(f"primary {m.metric} changed but has no desired direction")
            else:
                doubts.append(f"primary {m.metric} does not meet the Bayesian rule ({why})")
            continue
        if m.verdict is Verdict.LOSS:
            blockers.append(f"primary {m.metric} is significantly worse (adjusted p {_p(p)})")
        elif m.verdict is Verdict.WIN:
            wins.append(f"primary {m.metric} improved (adjusted p {_p(p)})")
        elif m.verdict is Verdict.INSUFFICIENT:
            doubts.append(f"primary {m.metric}: insufficient data ({m.reason})")
        elif m.verdict is Verdict.CHANGED:
            doubts.append(f"primary {m.metric} changed but has no desired direction")
        else:
            doubts.append(f"primary {m.metric} is not significant (adjusted p {_p(p)})")
    if not primaries:
        doubts.append(
            "no overall (segment 'all') result for the primary metrics"
            if declared
            else "no primary metric declared"
        )
    if blockers:
        return TreatmentDecision(treatment, Outcome.DONT_SHIP, tuple(blockers + doubts))
    if doubts:
        return TreatmentDecision(treatment, Outcome.INCONCLUSIVE, tuple(doubts + wins))
    passed = [f"guardrail {g.metric} passed" for g in guardrails]
    return TreatmentDecision(treatment, Outcome.SHIP, tuple(wins + passed))


def _score(primaries: Sequence[MetricResult]) -> float:
    if not primaries or primaries[0].relative is None:
        return 0.0
    lift = primaries[0].relative.estimate or 0.0
    return -lift if primaries[0].direction == "decrease" else lift


def decide(
    srm: SrmResult,
    treatments: Sequence[str],
    metrics: Sequence[MetricResult],
    guardrails: Sequence[GuardrailResult],
    *,
    cannot_analyse: str | None = None,
    interim: str | None = None,
) -> Decision:
    """Return the decision from overall-population results (segments are ignored).

    ``cannot_analyse`` is the reason there is no usable data at all, if so; ``interim``
    says the analysis is an interim look of a group-sequential design.
    """
    if cannot_analyse is not None:
        why = (f"cannot analyse: {cannot_analyse}",)
        per_t = tuple(TreatmentDecision(t, Outcome.CANNOT_ANALYSE, why) for t in treatments)
        return Decision(Outcome.CANNOT_ANALYSE, None, why, per_t)
    per: list[TreatmentDecision] = []
    scores: dict[str, float] = {}
    declared = any(m.role == "primary" for m in metrics)
    for t in treatments:
        prim = [
            m
            for m in metrics
            if m.treatment.variant == t and m.role == "primary" and not m.exploratory
        ]
        guards = [g for g in guardrails if g.treatment == t and not g.exploratory]
        per.append(_treatment(t, srm, prim, guards, declared))
        scores[t] = _score(prim)
    notes: tuple[str, ...] = ()
    if srm.p_value is None:
        notes += (f"sample-ratio check not run: {srm.reason}",)
    if interim:
        notes += (interim,)
    if any(d.outcome is Outcome.INVALID for d in per):
        return Decision(Outcome.INVALID, None, per[0].reasons, tuple(per))
    shipping = [d.treatment for d in per if d.outcome is Outcome.SHIP]
    reasons = tuple(f"{d.treatment}: {r}" for d in per for r in d.reasons) + notes
    if shipping:
        best = max(shipping, key=lambda t: scores[t])
        return Decision(Outcome.SHIP, best, reasons, tuple(per))
    if all(d.outcome is Outcome.DONT_SHIP for d in per):
        return Decision(Outcome.DONT_SHIP, None, reasons, tuple(per))
    return Decision(Outcome.INCONCLUSIVE, None, reasons, tuple(per))
