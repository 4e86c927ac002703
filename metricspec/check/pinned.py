"""Pinned definitions (MS517–MS519): a running experiment keeps the metric definitions it
was pinned to in `metricspec.lock` unless a metric's `version` says the change is deliberate.

The lock records, per experiment, each metric's meaning hash and what it was made of (its own
definition and every dependency, hashed apart), so a change is named as `diff` classifies it:
in the metric's own definition, or through the sources and metrics it reads.
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo
from collections.abc import Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, error
from metricspec.hashing import field_paths
from metricspec.lockfile import LOCK_NAME, PinnedMetric, current
from metricspec.semantic import experiment_status


def rule_metric_versions(ctx: Context) -> Iterator[Diagnostic]:
    """A version is a whole number from 1."""
    for metric in ctx.project.metrics:
        if metric.version < 1:
            yield error("MS518", f"metric `{metric.name}` has version {metric.version}; "
                        "versions count from 1", metric.setting_span("version"),
                        "write `version 1` or more, or leave it out (1)")


def _what_changed(pinned: PinnedMetric, now: PinnedMetric) -> str:
    """How a metric changed since it was pinned, as `diff` says it: in its own definition,
    or through what it reads."""
    if pinned.parts.get("definition") != now.parts.get("definition"):
        if pinned.definition is not None and now.definition is not None:
            fields = field_paths(pinned.definition, now.definition)
            return f"its own definition changed ({', '.join(fields)})"
        return "its own definition changed"
    through = sorted(p for p in set(pinned.parts) | set(now.parts)
                     if p != "definition" and pinned.parts.get(p) != now.parts.get(p))
    if not through:
        return "its definition changed"
    named = ", ".join(f"{p.split(':', 1)[0]} `{p.split(':', 1)[1]}`" for p in through)
    return f"it changed through {named}"


def rule_pinned_definitions(ctx: Context) -> Iterator[Diagnostic]:
    """A running experiment whose metric's meaning differs from the pinned one, with the
    same (or a lower) version: an error at the experiment, with a note at the metric."""
    if ctx.lock is None or ctx.lock_error:
        return
    today = ctx.today or today_or_override(ctx.index.calendar.timezone)
    for name, pin in sorted(ctx.lock.experiments.items()):
        exp = ctx.index.experiments.get(name)
        if exp is None or experiment_status(exp, today) != "running":
            continue
        now = current(ctx.index, name)
        for metric_name, pinned in sorted(pin.metrics.items()):
            found = now.get(metric_name)
            if (found is None or found.hash == pinned.hash or found.version > pinned.version
                    or found.version < 1):  # an invalid version is MS518 alone
                continue
            metric = ctx.index.metrics[metric_name]
            diagnostic = error(
                "MS517", f"running experiment `{name}` is pinned to metric `{metric_name}` "
                f"version {pinned.version} in {LOCK_NAME}, but {_what_changed(pinned, found)} "
                "without a new version", exp.span,
                f"revert the change, or add `version {pinned.version + 1}` to metric "
                f"`{metric_name}` and run `metricspec lock --update {name} --reason ...`")
            yield Diagnostic(diagnostic.code, diagnostic.message, diagnostic.span,
                             diagnostic.severity, diagnostic.hint,
                             (f"{_where(metric.span)}: metric `{metric_name}` is defined here",))


def rule_lock_file(ctx: Context) -> Iterator[Diagnostic]:
    """A lock file that cannot be read: nothing pinned can be checked."""
    if ctx.lock_error:
        file, message = ctx.lock_error
        yield error("MS519", message, ir.Span.point(file, 1, 1),
                    "restore it from version control, or delete it and run `metricspec lock`")


def today_or_override(zone: str | None = None) -> dt.date:
    """Today in the project's time zone (UTC without one: experiment windows are read in
    that zone, not in the machine's), or the day `METRICSPEC_TODAY` (YYYY-MM-DD) names: a
    check in CI or a test can judge which experiments run on a fixed day."""
    text = os.environ.get("METRICSPEC_TODAY", "")
    try:
        return dt.date.fromisoformat(text) if text else _zoned_today(zone)
    except ValueError:
        return _zoned_today(zone)


def _zoned_today(zone: str | None) -> dt.date:
    try:  # an unknown zone is MS440's error; today is then read in UTC
        where: dt.tzinfo = zoneinfo.ZoneInfo(zone) if zone else dt.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        where = dt.UTC
    return dt.datetime.now(where).date()


def _where(span: ir.Span) -> str:
    return f"{span.file}:{span.line}:{span.column}"
