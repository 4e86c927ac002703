"""Rules that make `check` the only judge of a spec: what the planner and the SQL emitter
would otherwise refuse (or trip over) after `check` passed, decided here, at the spec's span.

- MS605: every source a metric aggregates has a time column: metrics are computed per period
  (and experiments bound events by the window), so a source without one has no series.
- MS514: a winsorised metric is one of the experiment's metrics whose unit-level value is a
  count or sum (a mean, or a ratio whose numerator is capped): a conversion, a percentile or
  a composite of several metrics has no such value to cap.
- MS410: a rolling window is a whole number of days (metrics are compiled by day), and a
  window rolls something up (a constant has nothing to roll).
- MS417: the names metricspec builds for the parts of a query (`<source>_agg`,
  `<metric>__1`, `<metric>__conv`, `<source>_units`, the output columns `period`,
  `sample_n`, `value`…) cannot meet: `__` is reserved for generated names; sources (and
  metrics) may not differ only in case, since most warehouses fold unquoted names; a metric
  may not be called `period`; a monitor dimension may not take a column name of the monitor
  query; in an experiment, a conversion metric may not share its name with a source the
  experiment reads (both would build `<name>_units`).

The emitter keeps its own guard (`sqlbuild.with_ctes` raises an internal error on a clash),
and tests/spec/test_check_compiles.py compiles every project `check` accepts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, error
from metricspec.semantic import experiment_metric_refs

DAY = 86_400
RESERVED_MARK = "__"
# Output columns of a metric query besides the metrics and dimensions (plan.metric_query).
PERIOD = "period"
# Columns of a monitor query (plan.monitor.RESERVED and N_COLUMN).
MONITOR_COLUMNS = frozenset({PERIOD, "value", "sample_n", "baseline", "baseline_sd",
                             "baseline_windows", "deviation", "breached", "streak"})
# Columns only the monitor's series query adds (emit.monitor_series_sql): dimensions only.
SERIES_COLUMNS = frozenset({"judged", "alert_limit", "alert"})
# Columns a conversion's own blocks carry beside the dimensions (emit.metric_sql).
CONVERSION_COLUMNS = frozenset({"entity", "first_at", "converted"})


def rule_time_columns(ctx: Context) -> Iterator[Diagnostic]:
    """MS605 for every aggregation or conversion of a source without a time column."""
    for metric in ctx.project.metrics:
        for ref in _source_refs(metric.expr):
            source = ctx.index.sources.get(ref.name)
            if source is not None and source.time is None:
                yield error("MS605", f"`{metric.name}` aggregates source `{source.name}`, which "
                            "has no time column: metrics are computed per period",
                            ref.span, f"declare `time <column>` in source `{source.name}`")


def _source_refs(expr: ir.Expr) -> Iterator[ir.Ref]:
    for node in ir.walk(expr):
        if isinstance(node, ir.Aggregate):
            yield node.source
        elif isinstance(node, ir.Conversion):
            yield node.start.source
            yield node.end.source


def rule_window_lengths(ctx: Context) -> Iterator[Diagnostic]:
    """MS410: a window must fit the daily grain metrics are compiled at, and roll something."""
    for metric in ctx.project.metrics:
        if metric.name in ctx.too_deep:
            continue
        for window in [n for n in ctx.walk(ctx.expand(metric.expr))
                       if isinstance(n, ir.Window)]:  # windows in expressions: plan.offsets
            # A metric left unexpanded is unknown or in a cycle (its own error): what the
            # window rolls up is then not known, so it is not called a constant.
            rolled = (ir.Aggregate, ir.Conversion, ir.MetricRef)
            if not any(isinstance(n, rolled) for n in ctx.walk(window)):
                yield error("MS410", f"`{metric.name}` rolls up a constant: a window needs "
                            "something aggregated per period", metric.expr.span)
            length = window.length
            if window.mode == "rolling" and length is not None and length.seconds % DAY:
                yield error("MS410", f"a rolling window of {length} is not a whole number of "
                            "days: metrics are compiled by day", length.span,
                            f"use e.g. {max(1, length.seconds // DAY)} days")
            break


def rule_generated_names(ctx: Context) -> Iterator[Diagnostic]:
    """MS417: names that would meet a name metricspec builds for a part of a query."""
    yield from _reserved_mark(ctx)
    yield from _case_twins("source", ((s.name, s.span) for s in ctx.project.sources))
    yield from _case_twins("metric", ((m.name, m.span) for m in ctx.project.metrics))
    for metric in ctx.project.metrics:
        if metric.name.casefold() == PERIOD:
            yield error("MS417", f"a metric cannot be called `{metric.name}`: every metric "
                        "query has a `period` column", metric.span, "rename the metric")
    for monitor in ctx.project.monitors:
        if monitor.metric is not None:
            yield from _watched(ctx, monitor.metric, monitor.dimensions)
    for guardrail in ctx.project.guardrails:
        yield from _watched(ctx, guardrail.metric, ())
    for experiment in ctx.project.experiments:
        yield from _experiment_parts(ctx, experiment)


def _reserved_mark(ctx: Context) -> Iterator[Diagnostic]:
    named: list[tuple[str, str, ir.Span]] = [("source", s.name, s.span)
                                             for s in ctx.project.sources]
    named += [("metric", m.name, m.span) for m in ctx.project.metrics]
    for kind, name, span in named:
        if RESERVED_MARK in name:
            yield error("MS417", f"{kind} name `{name}` contains `__`, which is reserved for "
                        "the names metricspec builds from it", span,
                        f"e.g. `{_unmarked(name)}`")


def _unmarked(name: str) -> str:
    while RESERVED_MARK in name:
        name = name.replace(RESERVED_MARK, "_")
    return name.strip("_") or "name"


def _case_twins(kind: str, named: Iterable[tuple[str, ir.Span]]) -> Iterator[Diagnostic]:
    first: dict[str, tuple[str, ir.Span]] = {}
    for name, span in named:
        key = name.casefold()
        if key in first and first[key][0] != name:
            other, where = first[key]
            yield error("MS417", f"{kind} `{name}` differs from {kind} `{other}` (line "
                        f"{where.line} of {where.file}) only in case; most warehouses fold "
                        "names, so their parts of a query would clash", span,
                        "rename one of them")
        first.setdefault(key, (name, span))


def _watched(ctx: Context, ref: ir.Ref, dimensions: tuple[ir.Ref, ...]) -> Iterator[Diagnostic]:
    if ref.name.casefold() in MONITOR_COLUMNS - {PERIOD}:
        yield error("MS417", f"a watched metric cannot be called `{ref.name}`: it is a column "
                    "of every monitor and guardrail query", ref.span, "rename the metric")
    metric = ctx.index.metrics.get(ref.name)
    converts = metric is not None and ref.name not in ctx.too_deep and any(
        isinstance(n, ir.Conversion) for n in ctx.walk(ctx.expand(metric.expr)))
    taken = MONITOR_COLUMNS | SERIES_COLUMNS | (CONVERSION_COLUMNS if converts else frozenset())
    for dimension in dimensions:
        folded = dimension.name.casefold()
        if folded in taken or folded == ref.name.casefold() or RESERVED_MARK in dimension.name:
            yield error("MS417", f"dimension `{dimension.name}` would share its name with a "
                        "column the monitor query builds", dimension.span,
                        f"not one of {', '.join(sorted(taken))}, the metric's name, or a name "
                        "with `__`")


def _experiment_parts(ctx: Context, experiment: ir.Experiment) -> Iterator[Diagnostic]:
    """A conversion analysed on its own builds `<metric>_units`, as a source scan builds
    `<source>_units`."""
    refs = [ref for _, ref in experiment_metric_refs(experiment)
            if ref.name in ctx.index.metrics and ref.name not in ctx.too_deep]
    read = {name.casefold() for ref in refs for name in ctx.index.sources_of(ref.name)}
    for ref in refs:
        expanded = ctx.expand(ctx.index.metrics[ref.name].expr)
        if isinstance(expanded, ir.Conversion) and ref.name.casefold() in read:
            yield error("MS417", f"conversion metric `{ref.name}` has the name of a source this "
                        f"experiment reads: both would build the part `{ref.name}_units`",
                        ref.span, "rename the metric or the source")


def rule_winsorize(ctx: Context) -> Iterator[Diagnostic]:
    """MS514: `winsorize m at 99%` caps each unit's count or sum behind `m`."""
    for experiment in ctx.project.experiments:
        analysed = {ref.name for _, ref in experiment_metric_refs(experiment)}
        for winsorize in experiment.winsorize:
            for ref in winsorize.metrics:
                metric = ctx.index.metrics.get(ref.name)
                if metric is None or ref.name in ctx.too_deep:
                    continue  # MS201 / MS304 say why
                if ref.name not in analysed:
                    yield error("MS514", f"`{ref.name}` is winsorised but not a metric of this "
                                "experiment", ref.span, "list it as primary, secondary or "
                                "guardrail, or remove it from `winsorize`")
                    continue
                problem = _uncappable(ctx.expand(metric.expr))
                if problem:
                    yield error("MS514", f"`{ref.name}` cannot be winsorised: {problem}",
                                ref.span, "winsorise a count, sum, average or ratio of them")


def _uncappable(expr: ir.Expr) -> str | None:
    """Why a metric has no unit-level count or sum to cap (by its shape, as the experiment
    plan sees it)."""
    kind = ir.shape(expr)
    if kind in ("simple", "average", "ratio"):
        return None
    if kind == "percentile":
        return "a percentile is not a per-unit value"
    if kind == "extreme":
        assert isinstance(expr, ir.Aggregate)
        return f"`{expr.func}` has no per-unit value"
    if kind == "conversion":
        return "a conversion is a yes or no per unit"
    return "it combines several metrics; winsorise the ones it is made of"
