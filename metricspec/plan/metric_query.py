"""The plan of a metric query: metrics by time grain and dimensions, one scan per source.

A metric query groups every measure of one source into one `GROUP BY` over that source,
joins the per-source results on (period, dimensions), applies rolling and cumulative
windows over the series, and computes each metric's formula.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from typing import Literal

from metricspec import ir
from metricspec.filters import CheckedFilter
from metricspec.plan.calendar import check_calendar_window, read_start, with_calendar
from metricspec.plan.formula import parts
from metricspec.plan.joins import (
    Joins,
    conversion_columns,
    conversion_joins,
    joined_dimension,
    output_names,
    plan_joins,
)
from metricspec.plan.lower import (
    Conversion,
    InternalError,
    LoweredMetric,
    Lowering,
    Measure,
    PlanError,
    WindowSpec,
    filter_columns,
)
from metricspec.plan.offsets import SeriesPlan, plan_series, transformed
from metricspec.plan.zones import project_zone
from metricspec.semantic import Index

GrainUnit = Literal["minute", "hour", "day", "week", "month", "quarter", "year",
                    "fiscal_quarter", "fiscal_year", "none"]
_GRAIN = re.compile(r"^\s*(?:(\d+)\s*)?(minute|hour|day|week|month|quarter|year|fiscal_quarter"
                    r"|fiscal_year|none)s?\s*$")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}
_MONTHS = {"month": 1, "quarter": 3, "year": 12, "fiscal_quarter": 3, "fiscal_year": 12}


@dataclass(frozen=True)
class Grain:
    """A time bucket: `day`, `hour`, `5 minutes`, `week` (from `week_start`: 0 is ISO
    Monday, 6 Sunday), `month`, `quarter`, `year` (calendar), `fiscal_quarter` and
    `fiscal_year` (from month `fiscal_start`, 1 is January), or `none` (one period: the
    whole range). `plan.calendar.with_calendar` sets the calendar's week and fiscal start."""

    unit: GrainUnit
    count: int = 1
    week_start: int = 0
    fiscal_start: int = 1

    @classmethod
    def parse(cls, text: str) -> Grain:
        """>>> str(Grain.parse("5 minutes")), Grain.parse("day").seconds
        ('5 minutes', 86400)
        """
        match = _GRAIN.match(text.lower())
        if not match:
            raise PlanError(f"unknown grain `{text}`: use minute(s), hour(s), day, week, month, "
                            "quarter, year, fiscal_quarter, fiscal_year or none, "
                            "optionally with a count such as `5 minutes`")
        grain = cls(unit=match.group(2), count=int(match.group(1) or 1))  # type: ignore[arg-type]
        limit = {"minute": 60, "hour": 24}.get(grain.unit, 1)
        if grain.count < 1 or limit % grain.count:
            raise PlanError(f"a grain of {text} does not tile the next larger unit evenly")
        return grain

    @classmethod
    def of(cls, duration: ir.Duration) -> Grain:
        return cls.parse(f"{duration.value} {duration.unit}")

    @property
    def seconds(self) -> int | None:
        return _SECONDS[self.unit] * self.count if self.unit in _SECONDS else None

    @property
    def months(self) -> int | None:
        """The grain's length in calendar months (month, quarter, year, fiscal ones)."""
        return _MONTHS.get(self.unit)

    def __str__(self) -> str:
        return self.unit if self.count == 1 else f"{self.count} {self.unit}s"


@dataclass(frozen=True)
class Scan:
    """One pass over one source computing all its measures."""

    source: ir.Source
    measures: tuple[Measure, ...]
    #: The dimensions read from other tables (None: the source's own columns only).
    joins: Joins | None = None


@dataclass(frozen=True)
class MetricQueryPlan:
    title: str
    metrics: tuple[LoweredMetric, ...]
    scans: tuple[Scan, ...]
    conversions: tuple[Conversion, ...]
    sources: dict[str, ir.Source]
    grain: Grain
    dimensions: tuple[str, ...]
    start: dt.datetime | None
    end: dt.datetime | None
    files: tuple[str, ...]
    # a query-time filter on dimensions (`metricspec query --where`; see plan/where.py)
    where: CheckedFilter | None = None
    #: one row per period of the range, events or not (`emit.spine`); monitors keep the
    #: periods with rows
    dense: bool = True
    #: offsets and windows inside expressions (`plan.offsets`): then `metrics` are formulas
    #: over the series plan's components, which the scans compute from an earlier `start`
    series: SeriesPlan | None = None
    #: the project's time zone (None: UTC): periods are its wall-clock buckets, and
    #: `start`/`end` its wall-clock times (plan/zones.py)
    timezone: str | None = None

    @property
    def lookback_seconds(self) -> int:
        return max((m.window.seconds or 0 for m in self.metrics if m.window), default=0)

    @property
    def cumulative(self) -> bool:
        """Whether a metric accumulates from the first event (to-date metrics restart)."""
        return any(m.window and m.window.mode == "cumulative" and m.window.to_date is None
                   for m in self.metrics)

    @property
    def calendar_windows(self) -> list[WindowSpec]:
        """Windows in calendar months and to-date metrics (`plan.calendar`)."""
        return [m.window for m in self.metrics
                if m.window and (m.window.months is not None or m.window.to_date is not None)]

    @property
    def read_from(self) -> dt.datetime | None:
        """With calendar windows: the first instant the scans read (None: no start)."""
        if self.start is None:
            return None
        return read_start(self.start, self.grain, self.calendar_windows, self.lookback_seconds)

    def columns_read(self) -> dict[str, tuple[str, ...]]:
        """Every column the query reads, by source name, in first-use order: the
        dimensions it groups by, each measure's column and filter columns, a conversion's
        entity and filter columns, the time column. A conversion's end source is joined to
        its start, not grouped: it reads only the dimensions it declares."""
        needed: dict[str, dict[str, None]] = {
            name: dict.fromkeys(self.dimensions) for name in self.sources}
        for scan in self.scans:
            for measure in scan.measures:
                needed[measure.source].update(dict.fromkeys(
                    scan.joins.own_columns(measure) if scan.joins else measure.columns_read))
            if scan.joins is not None:
                _joined_reads(needed, scan.joins)
        for conv in self.conversions:
            for name, columns in conversion_columns(conv).items():
                needed.setdefault(name, {}).update(dict.fromkeys(columns))
            end = needed[conv.end_source]
            declared = {c.name for c in self.sources[conv.end_source].dimensions}
            for dimension in self.dimensions:
                if dimension not in declared:
                    end.pop(dimension, None)
        for name in {*(s.source.name for s in self.scans),
                     *(c.start_source for c in self.conversions)}:
            needed[name].update(dict.fromkeys(filter_columns(self.where)))
        for name, source in self.sources.items():
            if source.time:
                needed[name].setdefault(source.time.name)
        return {name: tuple(columns) for name, columns in needed.items()}

    @property
    def joined_tables(self) -> dict[str, ir.Source]:
        """The dimension tables the scans join, by name."""
        found = [*(s.joins for s in self.scans), *(j for c in self.conversions
                                                    for j in (c.start_joins, c.end_joins))]
        return {name: table for joins in found if joins
                for name, table in joins.tables.items()}


def _joined_reads(needed: dict[str, dict[str, None]], joins: Joins) -> None:
    """A scan's joined references are read from their tables, not from its source."""
    home = needed[joins.source.name]
    for name in [*(j.reference for j in joins.columns), *(j.output for j in joins.columns),
                 *(d.name for d in joins.derived)]:
        home.pop(name, None)
    for name, columns in joins.columns_read().items():
        needed.setdefault(name, {}).update(dict.fromkeys(columns))


def plan_metric_query(index: Index, metrics: list[str], *, grain: Grain | None = None,
                      dimensions: tuple[str, ...] = (), start: dt.datetime | None = None,
                      end: dt.datetime | None = None, title: str | None = None,
                      dense: bool = True) -> MetricQueryPlan:
    """Plan metrics by grain and dimensions over [start, end): every period of the range
    (`dense`), or the periods with rows."""
    grain = with_calendar(grain or Grain("day"), index.calendar)
    unknown = [m for m in metrics if m not in index.metrics]
    if unknown:
        raise PlanError(f"unknown metric `{unknown[0]}`")
    if start is not None and end is not None and start >= end:
        raise PlanError(f"the time range is empty: {start:%Y-%m-%d %H:%M} is not before "
                        f"{end:%Y-%m-%d %H:%M}")
    lowering = Lowering(index)
    series = None
    if any(transformed(index.expand(index.metrics[m].expr)) for m in metrics):
        if grain.unit == "none":
            raise PlanError("offsets and windows inside arithmetic need periods: "
                            "query them by a grain, not `--grain none`")
        lowered, series, start = plan_series(lowering, metrics, grain.seconds, grain.months,
                                             str(grain), start)
    else:
        lowered = tuple(lowering.metric(name) for name in metrics)
    computed = series.components if series else lowered
    for metric in computed:
        if metric.window is not None and (grain.unit == "none" or metric.window.months
                                          or metric.window.to_date):
            check_calendar_window(metric.name, metric.window, grain, _window_at(index,
                                                                                metric.name))
        _check_window(metric, grain)
    used = {p for m in computed for p in parts(m.formula)}
    measures = [m for m in lowering.measures.values() if m.name in used]
    conversions = tuple(conversion_joins(index.sources, c)
                        for c in lowering.conversions.values()
                        if c.starts in used or c.converted in used)
    source_names: dict[str, None] = {}
    for measure in measures:
        source_names.setdefault(measure.source)
    for conv in conversions:
        source_names.setdefault(conv.start_source)
        source_names.setdefault(conv.end_source)
    sources = {name: index.sources[name] for name in source_names}
    _check_sources(sources, dimensions, conversions, metrics, index.sources)
    scans = []
    for name in source_names:
        own = tuple(m for m in measures if m.source == name)
        if own:
            scans.append(Scan(sources[name], own,
                              plan_joins(index.sources, sources[name], dimensions, own)))
    dimensions = output_names(dimensions, (s.joins for s in scans))
    _check_names(metrics, dimensions, bool(conversions))
    files = tuple(sorted({index.metrics[m].span.file for m in metrics}))
    return MetricQueryPlan(
        title=title or ", ".join(metrics), metrics=lowered, scans=tuple(scans),
        conversions=conversions, sources=sources, grain=grain, dimensions=dimensions,
        start=start, end=end, files=files, dense=dense, series=series,
        timezone=project_zone(index.calendar))


def _window_at(index: Index, name: str) -> str:
    """Where a metric's window length (or its window) is written, as `file:line:column`
    (a part of a metric with an offset: where that metric is)."""
    metric = index.metrics.get(name) or index.metrics.get(name.split("__")[0])
    if metric is None:
        return "<query>"
    expr = metric.expr
    if isinstance(expr, ir.Window):
        return str(expr.length.span if expr.length else expr.span)
    return str(expr.span)


def _check_window(metric: LoweredMetric, grain: Grain) -> None:
    window = metric.window
    if window is None or window.mode == "cumulative" or window.seconds is None:
        return
    if grain.seconds is None or window.seconds % grain.seconds:
        raise PlanError(f"`{metric.name}` rolls over {_duration(window.seconds)}, which is not "
                        f"a whole number of {grain} periods; pick a finer grain")


def _duration(seconds: int) -> str:
    """>>> _duration(86400 * 7), _duration(5400)
    ('7 days', '90 minutes')
    """
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"  # pragma: no cover - the loop ends at seconds


PERIOD_COLUMN = "period"


# Columns a conversion's blocks carry beside the dimensions (emit.metric_sql); names with
# `__` are those metricspec builds for measures. check.compilable mirrors both (MS417).
CONVERSION_COLUMNS = ("entity", "first_at", "converted")


def _check_names(metrics: list[str], dimensions: tuple[str, ...], conversions: bool) -> None:
    """Output columns are `period`, the dimensions and the metrics: no two may share a name
    (a dimension called `period` would silently vanish behind the period column), compared
    as warehouses fold names; a dimension may not take a name metricspec builds."""
    for name in dimensions:
        if "__" in name:
            raise PlanError(f"dimension `{name}` has `__` in its name, which metricspec "
                            "reserves for the columns it builds")
        if conversions and name.casefold() in CONVERSION_COLUMNS:
            raise PlanError(f"dimension `{name}` would share its name with a column of the "
                            f"conversion's query ({', '.join(CONVERSION_COLUMNS)})")
    seen = {PERIOD_COLUMN: "the period column"}
    for kind, names in (("dimension", dimensions), ("metric", tuple(metrics))):
        for name in names:
            if name.casefold() in seen:
                raise PlanError(f"{kind} `{name}` would share its output column with "
                                f"{seen[name.casefold()]}")
            seen[name.casefold()] = f"{kind} `{name}`"


def available_dimensions(sources: dict[str, ir.Source],
                         conversions: tuple[Conversion, ...]) -> list[str]:
    """What a query of these sources can group by: the dimensions and entities of every
    source it groups (a conversion's end source is joined to its start, not grouped)."""
    grouped = dict(sources)
    for conv in conversions:
        if conv.end_source != conv.start_source:
            grouped.pop(conv.end_source, None)
    found: dict[str, None] | None = None
    for source in grouped.values():
        names = {c.name: None for c in source.dimensions + source.entities}
        names.update(dict.fromkeys(d.name for d in source.derived))
        found = names if found is None else {n: None for n in found if n in names}
    return list(found or {})


def _check_sources(sources: dict[str, ir.Source], dimensions: tuple[str, ...],
                   conversions: tuple[Conversion, ...], metrics: list[str],
                   project: dict[str, ir.Source]) -> None:
    for source in sources.values():
        if source.time is None:
            raise InternalError(f"source `{source.name}` has no time column", "MS605")
    available = available_dimensions(sources, conversions)
    for dimension in dimensions:
        table, _, own = dimension.rpartition(".")
        if table in sources and own in available:  # `events.channel`: the source's own
            continue
        joined = False if dimension in available else joined_dimension(
            project, sources, dimension, bool(conversions))
        if joined is True:
            continue
        if dimension not in available:
            subject = ", ".join(f"`{m}`" for m in metrics)
            choices = (f"group by one of {', '.join(available)}" if available else
                       "its sources share no dimension to group by")
            why = joined.message if joined else ""
            close = difflib.get_close_matches(dimension, list(available), n=1)
            raise PlanError(
                f"`{dimension}` is not a dimension of {subject}"
                + (f" — did you mean `{close[0]}`? ({'; '.join(filter(None, (choices, why)))})"
                   if close else f": {choices}" + (f" ({why})" if why else "")))
