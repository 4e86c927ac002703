"""Analysis designs of experiments (MS514, MS206): Bayesian readouts, group-sequential looks
and post-stratification.

`analysis bayesian` with its prior, `chance_to_win` and `max_risk`; a metric's own `prior`;
`sequential looks K spending obrien_fleming|pocock`. The statistics engine refuses the same
values with `ValueError`; here they become diagnostics at the setting.
"""

from __future__ import annotations

from collections.abc import Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, did_you_mean, error

ANALYSES = ("frequentist", "bayesian")
SPENDINGS = ("obrien_fleming", "pocock")
MAX_LOOKS = 20


def _given(exp: ir.Experiment, key: str) -> bool:
    return any(name == key for name, _ in exp.setting_spans)


def _prior(prior: ir.Prior) -> Iterator[Diagnostic]:
    if not prior.sd > 0:
        yield error("MS514", f"the prior's sd must be positive, got {prior.sd:g}", prior.span,
                    "e.g. `prior mean 0 sd 0.3` (a lift within about ±60 %)")


def rule_designs(ctx: Context) -> Iterator[Diagnostic]:
    for metric in ctx.project.metrics:
        if metric.prior is not None:
            yield from _prior(metric.prior)
    for exp in ctx.project.experiments:
        yield from _bayesian(exp)
        yield from _group_sequential(exp)
        yield from _stratify(ctx, exp)


def _stratify(ctx: Context, exp: ir.Experiment) -> Iterator[Diagnostic]:
    """Strata are a dimension of the assignment source: known before exposure (MS206)."""
    if exp.stratify is None or exp.assignment is None:
        return
    source = ctx.index.sources.get(exp.assignment.source.name)
    if source is None:
        return
    dimensions = [d.name for d in source.dimensions]
    if exp.stratify.name not in dimensions:
        yield error("MS206", f"`{exp.stratify.name}` is not a dimension of the assignment "
                    f"source `{source.name}`", exp.stratify.span,
                    did_you_mean(exp.stratify.name, dimensions)
                    or f"declare it with `dimension {exp.stratify.name}` in `{source.name}`")


def _bayesian(exp: ir.Experiment) -> Iterator[Diagnostic]:
    if exp.analysis not in ANALYSES:
        yield error("MS514", f"unknown analysis `{exp.analysis}`", exp.setting_span("analysis"),
                    did_you_mean(exp.analysis, ANALYSES) or f"use one of {', '.join(ANALYSES)}")
    elif exp.analysis != "bayesian":
        for key, present in (("prior", exp.prior is not None),
                             ("chance_to_win", _given(exp, "chance_to_win")),
                             ("max_risk", _given(exp, "max_risk"))):
            if present:
                span = exp.prior.span if key == "prior" and exp.prior else exp.setting_span(key)
                yield error("MS514", f"`{key}` applies to Bayesian readouts only", span,
                            "add `analysis bayesian` to the experiment")
    if exp.prior is not None:
        yield from _prior(exp.prior)
    if not 0.5 < exp.chance_to_win < 1:
        yield error("MS514", f"chance_to_win {exp.chance_to_win:g} is outside (50%, 100%)",
                    exp.setting_span("chance_to_win"), "the usual choice is `chance_to_win 95%`")
    if not 0 < exp.max_risk < 1:
        yield error("MS514", f"max_risk {exp.max_risk:g} is outside (0, 100%)",
                    exp.setting_span("max_risk"), "e.g. `max_risk 1%` of the control's value")


def _group_sequential(exp: ir.Experiment) -> Iterator[Diagnostic]:
    seq = exp.sequential
    if seq is None or seq.spending is None:
        return
    if seq.spending not in SPENDINGS:
        yield error("MS514", f"unknown spending function `{seq.spending}`", seq.span,
                    did_you_mean(seq.spending, SPENDINGS) or f"use one of {', '.join(SPENDINGS)}")
    if seq.looks is None:
        yield error("MS514", "a spending function needs the number of looks", seq.span,
                    f"e.g. `sequential looks 4 spending {seq.spending}`")
    elif seq.looks > MAX_LOOKS:
        yield error("MS514", f"a group-sequential design has at most {MAX_LOOKS} looks",
                    seq.span)
