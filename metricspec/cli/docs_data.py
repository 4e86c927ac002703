"""What `metricspec docs --warehouse` adds to the site: each metric's recent series, each KPI
tree's explanation between two periods, and the experiment reports found on disk."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metricspec.cli.common import err

if TYPE_CHECKING:
    from metricspec.document.docs import SiteData
    from metricspec.document.kpi_explain import Period
    from metricspec.report.charts import SeriesPoint
    from metricspec.run.connections import Connection
    from metricspec.semantic import Index


def default_periods(until: dt.datetime) -> tuple[str, str]:
    """The last full month before `until`, and the month before it.

    >>> default_periods(dt.datetime(2026, 12, 5))
    ('2026-11', '2026-10')
    >>> default_periods(dt.datetime(2026, 1, 1))
    ('2025-12', '2025-11')
    """
    last = (until.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    before = (last - dt.timedelta(days=1)).replace(day=1)
    return f"{last:%Y-%m}", f"{before:%Y-%m}"


def recent_series(index: Index, conn: Connection, start: dt.datetime, end: dt.datetime
                  ) -> dict[str, list[SeriesPoint]]:
    """Every metric by day over [start, end): one query for all of them when they plan
    together, else one per metric; a metric that cannot be charted by day is left out."""
    from metricspec.plan.lower import PlanError
    from metricspec.plan.metric_query import Grain, plan_metric_query
    from metricspec.report.charts import SeriesPoint
    from metricspec.run.execute import run_metrics

    names = sorted(index.metrics)
    groups: list[list[str]] = [names]
    try:
        plan_metric_query(index, names, grain=Grain("day"), start=start, end=end)
    except PlanError:
        groups = [[n] for n in names]
    series: dict[str, list[SeriesPoint]] = {}
    for group in groups:
        try:
            plan = plan_metric_query(index, group, grain=Grain("day"), start=start, end=end,
                                     title="recent values")
        except PlanError as exc:
            err.print(f"docs: no series for {', '.join(group)}: {exc}", markup=False)
            continue
        rows = run_metrics(index, group, conn, plan=plan)
        for name in group:
            series[name] = [SeriesPoint(_day(row["period"]), _number(row.get(name)))
                            for row in rows]
    return series


def _day(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def found_reports(index: Index, site: Path, folder: Path) -> dict[str, list[str]]:
    """Experiment reports in `folder`: `NAME.html` or `NAME-anything.html` (names are
    identifiers, so the dash is unambiguous), newest first by modification time; as paths
    relative to the site's root."""
    import os

    from metricspec.outputs import file_name

    if not folder.is_dir():
        return {}
    files = sorted(folder.glob("*.html"))
    found: dict[str, list[str]] = {}
    for name in sorted(index.experiments):
        stem = file_name(name, "")
        mine = [f for f in files if f.stem == stem or f.stem.startswith(stem + "-")]
        mine.sort(key=lambda f: (f.stat().st_mtime, f.name), reverse=True)
        if mine:
            found[name] = [Path(os.path.relpath(f, site)).as_posix() for f in mine]
    return found


def site_data(index: Index, conn: Connection, *, until: dt.datetime, days: int,
              period: Period, vs: Period) -> SiteData:
    from metricspec.cli.kpi_command import explain_periods
    from metricspec.document.docs import SiteData

    start = until - dt.timedelta(days=days)
    series = recent_series(index, conn, start, until)
    explanations = {name: explain_periods(index, name, period, vs, conn)[0]
                    for name in sorted(index.kpis)}
    return SiteData(series=series,
                    series_range=f"{start:%Y-%m-%d} to {until - dt.timedelta(days=1):%Y-%m-%d}",
                    explanations=explanations)
