"""`analyze`: the statistics engine's entry point, from sufficient statistics to a decision.

Order of work: the sample-ratio check; per (segment, metric, treatment) a pair of variant
summaries (`batch` for means, proportions and ratios, `prepare` for everything else and
every degenerate case); one vectorised pass for effects, p-values and corrections over all
rows; confidence intervals at the corrected level; guardrails; the decision.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from metricspec.collector import paused
from metricspec.stats import poststrat
from metricspec.stats.batch import batch_prepare
from metricspec.stats.bayesian import bayes_verdict, readout
from metricspec.stats.conventions import describe
from metricspec.stats.corrections import adjust, holm_interval_alpha, interval_alpha
from metricspec.stats.data import OVERALL, ExperimentData, SegmentData
from metricspec.stats.decision import decide
from metricspec.stats.group_sequential import LookResult, current_look, look_tests
from metricspec.stats.guardrails import guardrail_test
from metricspec.stats.inference import Comparisons, effects, interval, two_sided_p
from metricspec.stats.prepare import Prepared, prepare
from metricspec.stats.results import (
    AnalysisResult,
    ArmValue,
    CupedInfo,
    Estimate,
    GuardrailResult,
    MetricResult,
    SrmResult,
    Verdict,
    finite,
)
from metricspec.stats.sequential import always_valid_p, cs_halfwidth, rho
from metricspec.stats.simpson import simpson_checks
from metricspec.stats.spec import Correction, Direction, ExperimentConfig, MetricSpec, Role
from metricspec.stats.srm import srm_check

__all__ = ["analyze"]

Array = npt.NDArray[np.float64]


def _validated(metrics: Sequence[MetricSpec]) -> list[MetricSpec]:
    seen: set[str] = set()
    for m in metrics:
        if m.name in seen:
            raise ValueError(f"metric {m.name!r} is listed twice")
        seen.add(m.name)
    return list(metrics)


def _units(config: ExperimentConfig, data: ExperimentData) -> dict[str, int | None]:
    """Exposed units per declared variant for the sample-ratio check.

    A declared variant without any row while another variant has a unit count is an empty
    arm (0): the warehouse returns no row for an arm nobody was exposed to.
    """
    overall = data.overall
    arms = overall.variants if overall is not None else {}
    counted = any(arms[v].units is not None for v in arms)
    return {v: arms[v].units if v in arms else (0 if counted else None) for v in config.variants}


def _no_data(config: ExperimentConfig, data: ExperimentData) -> str | None:
    """Return why the experiment cannot be analysed at all, or None when it can."""
    if not data.segments:
        return "the statistics hold no rows for this experiment"
    overall = data.overall
    if overall is None:
        return "no overall population (segment 'all') in the statistics"
    declared = [v for v in config.variants if v in overall.variants]
    if not declared:
        found = ", ".join(sorted(overall.variants)) or "none"
        return f"none of the declared variants has rows (found: {found})"
    arms = [overall.variants[v] for v in declared]
    counts = [a.units for a in arms]
    if all(c is not None for c in counts) and sum(c or 0 for c in counts) == 0:
        return "no exposed units in any variant"
    return None


def _verdict(significant: bool, diff: float, direction: Direction) -> Verdict:
    if not significant:
        return Verdict.FLAT
    if direction is Direction.NONE:
        return Verdict.CHANGED
    good = diff > 0 if direction is Direction.INCREASE else diff < 0
    return Verdict.WIN if good else Verdict.LOSS


def analyze(
    config: ExperimentConfig, metrics: Sequence[MetricSpec], data: ExperimentData
) -> AnalysisResult:
    """Analyse an experiment from per-variant sufficient statistics.

    Args:
        config: Variants, split, alpha, correction, sequential settings.
        metrics: Metrics with kind, formula, role, direction, CUPED mapping and margins.
        data: Sufficient statistics per segment and variant (see `longformat`).

    Returns:
        The sample-ratio check, per-metric results, guardrails and the decision. Data
        problems never raise: they give "insufficient data" results with a reason. Without
        any usable data (no rows, no exposed units, none of the declared variants) every
        declared metric is "insufficient data" with that reason, the sample-ratio check is
        "not run" and the decision is "cannot analyse".

    Raises:
        ValueError: The metric list is invalid (duplicate names).
    """
    # the results are tens of thousands of small objects and no cycles: collections that
    # walked them were a third of the time for 10,000 metrics
    with paused():
        return _analyze(config, metrics, data)


def _analyze(
    config: ExperimentConfig, metrics: Sequence[MetricSpec], data: ExperimentData
) -> AnalysisResult:
    specs = _validated(metrics)
    missing = _no_data(config, data)
    if missing is None:
        srm = srm_check(
            _units(config, data),
            config.split,
            config.srm_alpha,
            excluded_multiple=data.excluded_multiple,
        )
        segments = data.segments
    else:
        srm = SrmResult.insufficient(
            missing, config.split, config.srm_alpha, data.excluded_multiple
        )
        # every declared metric gets an overall row saying why; segments stay exploratory
        others = [seg for seg in data.segments if not seg.is_overall]
        segments = (SegmentData(OVERALL, None, {}), *others)
    rows: list[Prepared] = []
    for seg in segments:
        fast = batch_prepare(specs, seg, config.control, config.treatments)
        for spec in specs:
            batch = fast.get(spec.name)
            rows += (
                batch
                if batch is not None
                else prepare(spec, seg, config.control, config.treatments)
            )
    if missing is not None:
        rows = [dataclasses.replace(r, reason=missing) if r.segment.is_overall else r for r in rows]
    family = sum(s.in_family for s in specs) * len(config.treatments)
    look = _look(config, data, family) if missing is None else None
    strata, notes = poststrat.overrides(config.strata, rows, data)
    stats = {k: v.tolist() for k, v in _infer(config, rows, look, strata).items()}
    results = [_metric_result(config, row, stats, i) for i, row in enumerate(rows)]
    guards = [
        _guardrail(config, row, stats, i)
        for i, row in enumerate(rows)
        if row.spec.role is Role.GUARDRAIL
    ]
    interim = None
    if look is not None and not look.final:
        interim = f"interim look {look.look}: continue where no primary crossed its boundary"
    decision = decide(
        srm, config.treatments, results, guards, cannot_analyse=missing, interim=interim
    )
    settings: dict[str, Any] = {
        "control": config.control,
        "treatments": list(config.treatments),
        "split": dict(config.split),
        "alpha": config.alpha,
        "correction": config.correction.value,
        "family_size": family,
        "sequential": config.sequential,
        "sequential_tuning": config.sequential_tuning if config.sequential else None,
        "srm_alpha": config.srm_alpha,
        "segments_exploratory": True,
    }
    if look is not None and config.group_sequential is not None:
        settings["group_sequential"] = look.summary(config.group_sequential.describe())
    if config.bayesian is not None:
        settings["bayesian"] = config.bayesian.summary()
    if config.strata is not None:
        settings["poststratification"] = {"dimension": config.strata, "metrics": notes}
    name = config.name or data.experiment or ""
    simpson = simpson_checks(data, results, config.control, config.srm_alpha)
    return AnalysisResult(name, srm, decision, tuple(results), tuple(guards), settings,
                          simpson)


def _look(config: ExperimentConfig, data: ExperimentData, family: int) -> LookResult | None:
    """The group-sequential look analysed (boundaries at α/m under a correction)."""
    if config.group_sequential is None:
        return None
    units = sum(n for n in _units(config, data).values() if n is not None)
    split = config.correction is not Correction.NONE and family > 1
    alpha = config.alpha / family if split else config.alpha
    return current_look(config.group_sequential, alpha, config.look, config.planned_units, units)


def _infer(
    config: ExperimentConfig,
    rows: Sequence[Prepared],
    look: LookResult | None = None,
    strata: dict[int, poststrat.PostStratified] | None = None,
) -> dict[str, Array]:
    """Compute effects, p-values, corrections and intervals for all rows at once."""
    n = len(rows)
    valid = np.array([r.pair is not None for r in rows], dtype=bool)
    comps = Comparisons.build(
        [(r.pair[0], r.pair[1], r.use_t, r.plugin_adjusted) for r in rows if r.pair is not None]
    )
    eff = effects(comps)
    n_total = comps.n_c + comps.n_t
    out: dict[str, Array] = {}
    for key, arr in (
        ("diff", eff.diff),
        ("se", eff.se),
        ("df", eff.df),
        ("lift", eff.lift),
        ("lift_se", eff.lift_se),
        ("n_total", n_total),
    ):
        full = np.full(n, np.nan)
        full[valid] = arr
        out[key] = full
    poststrat.apply(out, strata or {})
    ok = valid & np.isfinite(out["diff"]) & np.isfinite(out["lift"])
    ok &= np.isfinite(out["se"]) & (out["se"] > 0) & np.isfinite(out["lift_se"])
    ok &= (out["lift_se"] > 0) & (out["df"] > 0)  # NaN df fails too
    while True:  # a row whose outputs overflow leaves the family, then the rest is recomputed
        tests = _tests(config, rows, out, ok, look)
        finite_out = np.logical_and.reduce([np.isfinite(tests[k]) for k in _OUTPUTS])
        bad = ok & ~finite_out
        if not bad.any():
            break
        ok &= ~bad
    out.update(tests)
    out["ok"] = ok.astype(float)
    return out


_OUTPUTS = ("p", "p_rel", "lo", "hi", "llo", "lhi")
_NUMERIC = "standard error is zero or a result is not finite (numerically degenerate statistics)"


def _tests(
    config: ExperimentConfig,
    rows: Sequence[Prepared],
    out: dict[str, Array],
    ok: npt.NDArray[np.bool_],
    look: LookResult | None = None,
) -> dict[str, Array]:
    """Return p-values, corrected p-values and intervals for the rows marked ``ok``."""
    n = len(rows)
    se, lse = np.where(ok, out["se"], 1.0), np.where(ok, out["lift_se"], 1.0)
    diff, lift = np.where(ok, out["diff"], 0.0), np.where(ok, out["lift"], 0.0)
    if look is not None:  # group-sequential: the look's boundary replaces the correction
        res = look_tests(diff, se, lift, lse, look, config.alpha)
        return {k: np.where(ok, v, np.nan) if k != "ci_alpha" else v for k, v in res.items()}
    df, ntot = np.where(ok, out["df"], np.inf), np.where(ok, out["n_total"], 2.0)
    alpha = config.alpha
    r = rho(alpha, config.sequential_tuning)
    if config.sequential:
        p, p_rel = always_valid_p(diff, se, ntot, r), always_valid_p(lift, lse, ntot, r)
    else:
        p, p_rel = two_sided_p(diff, se, df), two_sided_p(lift, lse, df)
    p, p_rel = np.where(ok, p, np.nan), np.where(ok, p_rel, np.nan)
    adj, ci_alpha = p.copy(), np.full(n, alpha)
    family: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        if row.spec.in_family:
            family[(row.segment.segment, row.segment.value)].append(i)
    for idx in family.values():
        members = np.array(idx)
        adjusted = adjust(p[members], config.correction)
        adj[members] = np.where(ok[members], adjusted, np.nan)
        rejected = int(np.sum(adjusted < alpha))
        ci_alpha[members] = (
            holm_interval_alpha(p[members], adjusted, alpha)
            if config.correction is Correction.HOLM and len(idx) > 1
            else interval_alpha(config.correction, alpha, len(idx), rejected)
        )
    if config.sequential:
        half, lhalf = cs_halfwidth(se, ntot, ci_alpha, r), cs_halfwidth(lse, ntot, ci_alpha, r)
        lo, hi, llo, lhi = diff - half, diff + half, lift - lhalf, lift + lhalf
    else:
        lo, hi = interval(diff, se, df, ci_alpha)
        llo, lhi = interval(lift, lse, df, ci_alpha)
    masked = {
        k: np.where(ok, v, np.nan) for k, v in (("lo", lo), ("hi", hi), ("llo", llo), ("lhi", lhi))
    }
    return {"p": p, "p_rel": p_rel, "adj": adj, "ci_alpha": ci_alpha, **masked}


def _metric_result(
    config: ExperimentConfig, row: Prepared, s: dict[str, list[float]], i: int
) -> MetricResult:
    spec, seg = row.spec, row.segment
    ok = bool(s["ok"][i])
    pair = row.pair if ok else None
    # every number of an "ok" row is finite by construction (checked in _infer/_finish)
    c_val = ArmValue(
        row.control,
        finite(row.n_control),
        pair[0].value if pair else None,
        pair[0].base if pair else None,
    )
    t_val = ArmValue(
        row.treatment,
        finite(row.n_treatment),
        pair[1].value if pair else None,
        pair[1].base if pair else None,
    )
    cuped = None
    if row.cuped is not None:
        cuped = CupedInfo(
            finite(row.cuped.theta), row.cuped.theta_method, finite(row.cuped.variance_reduction)
        )
    absolute = relative = conventions = None
    p = adj = None
    significant, verdict = False, Verdict.INSUFFICIENT
    reason: str | None = row.reason or _NUMERIC
    if ok:
        absolute = Estimate(
            s["diff"][i],
            s["se"][i],
            s["lo"][i],
            s["hi"][i],
            s["p"][i],
        )
        relative = Estimate(
            s["lift"][i],
            s["lift_se"][i],
            s["llo"][i],
            s["lhi"][i],
            s["p_rel"][i],
        )
        p, adj, reason = s["p"][i], finite(s["adj"][i]), None
        significant = adj is not None and adj < config.alpha
        verdict = _verdict(significant, s["diff"][i], spec.direction)
        conventions = describe(
            row.spec, config, df=s["df"][i], ci_alpha=s["ci_alpha"][i], method=row.method
        )
    bayes = None
    if ok and config.bayesian is not None and pair is not None:
        prior = spec.prior or config.bayesian.prior
        est = (s["diff"][i], s["se"][i], s["lift"][i], s["lift_se"][i])
        decrease = spec.direction is Direction.DECREASE
        bayes = readout(est, pair[0].base, prior, config.alpha, decrease)
        if spec.in_family:
            directed = spec.direction is not Direction.NONE
            verdict = Verdict(bayes_verdict(bayes, config.bayesian, directed))
    return MetricResult(
        metric=spec.name,
        kind=spec.kind,  # StrEnum members are str (serialised as their value)
        role=spec.role,
        direction=spec.direction,
        segment=seg.segment,
        segment_value=seg.value,
        exploratory=not seg.is_overall,
        control=c_val,
        treatment=t_val,
        absolute=absolute,
        relative=relative,
        p_value=p,
        adjusted_p_value=adj,
        significant=significant,
        verdict=verdict,
        conventions=conventions,
        cuped=cuped,
        reason=reason,
        bayesian=bayes,
    )


def _guardrail(
    config: ExperimentConfig, row: Prepared, s: dict[str, list[float]], i: int
) -> GuardrailResult:
    spec = row.spec
    relative = spec.margin.relative if spec.margin is not None else True
    ok = bool(s["ok"][i])
    est = s["lift" if relative else "diff"][i]
    se = s["lift_se" if relative else "se"][i]
    seq = None
    if config.sequential:
        seq = (float(s["n_total"][i]), rho(config.alpha, config.sequential_tuning, two_sided=False))
    return guardrail_test(
        spec,
        treatment=row.treatment,
        segment=row.segment.segment,
        segment_value=row.segment.value,
        estimate=float(est) if ok else None,
        se=float(se) if ok else None,
        df=float(s["df"][i]) if ok else None,
        alpha=config.alpha,
        sequential=seq,
        reason=None if ok else (row.reason or _NUMERIC),
    )
