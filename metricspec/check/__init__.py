"""Checking: every rule that can be decided without a warehouse, run in one ordered pass.

Each rule is a function `Context -> Iterator[Diagnostic]` in the module of its concern; the
`RULES` tuple below is the whole list. Rules collect every problem rather than stopping at
the first, and tolerate each other's problems (unknown names, cycles). A rule depends on no
other rule having run: a large project's rules are shared between forked processes.

May import: `metricspec.ir`, `metricspec.semantic`, `metricspec.diagnostics`,
`metricspec.backends`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from itertools import pairwise

from metricspec import forked, ir
from metricspec.backends import Backend
from metricspec.check import (
    backend,
    calendar,
    calendar_windows,
    compilable,
    covariates,
    cycles,
    designs,
    experiments,
    filters,
    identifiers,
    joins,
    kpis,
    monitors,
    names,
    periods,
    pinned,
    semi,
    sources,
    types,
    zones,
)
from metricspec.check.context import Context
from metricspec.collector import paused
from metricspec.diagnostics import Diagnostic
from metricspec.lockfile import Lock
from metricspec.semantic import Index

Rule = Callable[[Context], Iterator[Diagnostic]]

# Metrics worth a forked process of rules of its own (each process expands and walks the
# metrics its rules read again).
_METRICS_PER_PART = 2_000

RULES: tuple[Rule, ...] = (
    identifiers.rule_identifiers,
    names.rule_duplicates,
    names.rule_metric_references,
    names.rule_object_references,
    names.rule_monitor_dimensions,
    cycles.rule_metric_cycles,
    cycles.rule_kpi_cycles,
    cycles.rule_metric_depth,
    types.rule_column_types,
    types.rule_aggregations,
    types.rule_weights,
    types.rule_ratio_entities,
    types.rule_windows,
    types.rule_metadata,
    filters.rule_filters,
    joins.rule_entity_graph,
    joins.rule_join_references,
    kpis.rule_kpi_compositions,
    experiments.rule_experiments,
    designs.rule_designs,
    monitors.rule_monitors,
    monitors.rule_guardrails,
    calendar.rule_calendar,
    zones.rule_zones,
    calendar_windows.rule_calendar_durations,
    backend.rule_backends,
    semi.rule_aggregate_options,
    semi.rule_semi_windows,
    semi.rule_experiment_options,
    semi.rule_approximate_backends,
    # what the planner and the emitter would otherwise refuse after `check` passed
    sources.rule_sources,
    sources.rule_assignment_time,
    compilable.rule_time_columns,
    compilable.rule_window_lengths,
    periods.rule_offsets,
    periods.rule_offset_uses,
    periods.rule_monitor_offsets,
    compilable.rule_generated_names,
    compilable.rule_winsorize,
    # definitions pinned by running experiments (metricspec.lock)
    pinned.rule_metric_versions,
    pinned.rule_pinned_definitions,
    pinned.rule_lock_file,
    covariates.rule_covariates,
)


#: The rules that read `ctx.backends`: all that can judge differently for a chosen backend.
BACKEND_RULES: tuple[Rule, ...] = (
    zones.rule_zones,
    backend.rule_backends,
    semi.rule_approximate_backends,
    sources.rule_sources,
)


def check_backends(project: ir.Project, backends: Iterable[Backend]) -> list[Diagnostic]:
    """What a project `check` accepted gives for `backends` too (`check --dialect`'s
    additions): only the rules that read the backends run again."""
    return _run(project, BACKEND_RULES, backends=tuple(backends))


def check(project: ir.Project, *, broken: Iterable[tuple[str, str]] = (),
          backends: Iterable[Backend] = (), lock: Lock | None = None,
          lock_error: tuple[str, str] | None = None,
          today: dt.date | None = None, workers: int = 1) -> list[Diagnostic]:
    """Run every rule; return all diagnostics, sorted by place, without repeats (`lock`:
    the project's pinned definitions, judged against `today`). With `workers` > 1, a large
    project's rules are shared between that many processes (forked, as `parse.load` does);
    the result is the same."""
    return _run(project, RULES, broken=set(broken), backends=tuple(backends), lock=lock,
                lock_error=lock_error, today=today, workers=workers)


def _run(project: ir.Project, rules: tuple[Rule, ...], *,
         broken: set[tuple[str, str]] | None = None, backends: tuple[Backend, ...] = (),
         lock: Lock | None = None, lock_error: tuple[str, str] | None = None,
         today: dt.date | None = None, workers: int = 1) -> list[Diagnostic]:
    index = Index(project)
    # Rules make almost no garbage cycles, but a full collection walks the whole project:
    # at 10,000 metrics one came due while checking and was half of check's time.
    with paused():
        ctx = Context(project=project, index=index, broken=broken or set(),
                      backends=backends, too_deep=cycles.too_deep(index), lock=lock,
                      lock_error=lock_error, today=today)
        count = max(1, min(workers, len(rules), len(index.metrics) // _METRICS_PER_PART))
        # runs of neighbouring rules, which read the same expansions and walks
        bounds = [len(rules) * n // count for n in range(count + 1)]
        shares = [range(start, end) for start, end in pairwise(bounds)]

        def share(positions: range) -> Callable[[], list[list[Diagnostic]]]:
            return lambda: [list(rules[n](ctx)) for n in positions]

        outputs = forked.run_parts([share(positions) for positions in shares])
    by_rule: dict[int, list[Diagnostic]] = {}
    for positions, output in zip(shares, outputs, strict=True):
        by_rule.update(zip(positions, output, strict=True))
    found: dict[tuple[str, str, int, int, str], Diagnostic] = {}
    for n in range(len(rules)):  # in the rules' order, whichever process ran them
        for diagnostic in by_rule[n]:
            key = (diagnostic.code, diagnostic.span.file, diagnostic.span.line,
                   diagnostic.span.column, diagnostic.message)
            found.setdefault(key, diagnostic)
    return sorted(found.values(), key=Diagnostic.sort_key)


__all__ = ["BACKEND_RULES", "RULES", "Context", "check", "check_backends"]
