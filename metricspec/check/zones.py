"""Time zones (MS443–MS446): a source's own `timezone` is a zone the IANA database knows, on
a source with a time column; a warehouse chosen with `--dialect` can convert between zones
when a zone is declared; an experiment reads event times in UTC.

The zone conversion is backend data (`[spellings] local_time` and `utc_time` in
`backends/*.toml`): a backend file without it is a diagnostic here, only when a zone is
declared, never an internal error later (docs/language.md, "Time zones").
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from functools import cache

from metricspec import ir
from metricspec.check.calendar import zone_problem
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, did_you_mean, error
from metricspec.semantic import experiment_metric_names

_UTC = ("UTC", "Etc/UTC")


@cache
def _known_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def _own_zone(source: ir.Source) -> str | None:
    """A source's declared zone that changes its times (not UTC, and a valid name)."""
    zone = source.timezone
    return None if zone is None or zone in _UTC or zone_problem(zone) else zone


def rule_zones(ctx: Context) -> Iterator[Diagnostic]:
    for source in ctx.project.sources:
        if source.timezone is None:
            continue
        span = source.timezone_span or source.span
        problem = zone_problem(source.timezone)
        if problem:
            guess = did_you_mean(source.timezone, _known_zones())
            yield error("MS444", problem, span, guess if guess else
                        "use an IANA name such as `America/New_York`, or leave it out for UTC")
        if source.time is None:
            yield error("MS445", f"source `{source.name}` has a time zone but no time column",
                        span, "declare its time column (`time created_at`), or remove "
                        "`timezone`")
    yield from _backends(ctx)
    yield from _experiments(ctx)


def _backends(ctx: Context) -> Iterator[Diagnostic]:
    calendar = ctx.index.calendar
    needs: list[tuple[str, ir.Span, str]] = []
    if calendar.timezone and calendar.timezone not in _UTC and not zone_problem(
            calendar.timezone):
        needs.append(("local_time", calendar.setting_span("timezone"),
                      f"the project's time zone `{calendar.timezone}`"))
    for source in ctx.project.sources:
        zone = _own_zone(source)
        if zone is not None and source.time is not None:
            needs.append(("utc_time", source.timezone_span or source.span,
                          f"the time zone `{zone}` of source `{source.name}`"))
    for backend in ctx.backends:
        for construct, span, what in needs:
            if getattr(backend.spellings, construct) is None:
                yield error("MS443", f"{backend.title} cannot convert {what}: its backend "
                            f"file spells no `{construct}`", span,
                            f"add `{construct}` under [spellings] in {backend.file}, or "
                            "compile for another warehouse")


def _experiments(ctx: Context) -> Iterator[Diagnostic]:
    """Experiments compare event times with exposure times in UTC: a source whose column
    holds a local time is not read by one (yet)."""
    sources = ctx.index.sources
    for exp in ctx.project.experiments:
        names: dict[str, None] = {}
        if exp.assignment is not None:
            names.setdefault(exp.assignment.source.name)
        for metric in experiment_metric_names(exp):
            if metric in ctx.index.metrics and metric not in ctx.too_deep:
                names.update(dict.fromkeys(ctx.index.sources_of(metric)))
        for name in names:
            source = sources.get(name)
            if source is not None and _own_zone(source) is not None and (
                    source.time is not None):
                yield error("MS446", f"experiment `{exp.name}` reads source `{name}`, whose "
                            f"time column holds local time (`{source.timezone}`); experiments "
                            "read event times in UTC", exp.span,
                            "store the source's times in UTC (or give them as a query source "
                            "converting them), and remove its `timezone`")
                break
