"""The monitor report: windows in alert with their value, baseline and deviation."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from metricspec.plan.monitor import MonitorPlan
from metricspec.report import fmt


@dataclass(frozen=True)
class MonitorReport:
    name: str
    kind: str
    metric: str
    rule: str
    range: str
    columns: tuple[str, ...]
    text_columns: tuple[str, ...]
    alerts: tuple[tuple[str, ...], ...]
    raw: tuple[dict[str, Any], ...]
    # (windows in the range, windows with at least min_n events and a value), when known
    coverage: tuple[int, int] | None = None
    min_n: int = 0
    #: what its queries read (`run.cost.ScanCost.to_json`), when the engine says
    scan: dict[str, Any] | None = None
    scan_summary: str = ""

    @property
    def firing(self) -> bool:
        return bool(self.alerts)

    @property
    def status(self) -> str:
        """`firing`, `ok`, or `insufficient_data` when no window of the range could be
        judged: no alert over no data is not a verdict."""
        if self.alerts:
            return "firing"
        if self.coverage is not None and self.coverage[1] == 0:
            return "insufficient_data"
        return "ok"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["raw"] = [{k: (v.isoformat() if isinstance(v, dt.datetime) else v)
                        for k, v in row.items()} for row in self.raw]
        data["firing"] = self.firing
        data["status"] = self.status
        data["coverage"] = (None if self.coverage is None else
                            {"windows": self.coverage[0], "judged": self.coverage[1]})
        return data


_THRESHOLD_WORDS = {"below": "below", "above": "above", "at_or_below": "at or below",
                    "at_or_above": "at or above"}


def rule_text(plan: MonitorPlan, metric_format: str | None, unit: str | None) -> str:
    """The rule in words, a fixed threshold in the metric's own format ("above 6,000 ms",
    not "above 6000")."""
    words = _THRESHOLD_WORDS.get(plan.rule)
    raw = f"{words} {plan.threshold:g}"
    if words is None or not plan.description.startswith(raw):
        return f"is {plan.description}"
    shown = fmt.value(plan.threshold, metric_format, unit)
    return f"is {words} {shown}{plan.description[len(raw):]}"


def build_monitor_report(plan: MonitorPlan, alerts: list[dict[str, Any]], metric_format: str |
                         None, unit: str | None, since: dt.datetime | None,
                         until: dt.datetime | None,
                         coverage: tuple[int, int] | None = None) -> MonitorReport:
    dims = list(plan.series.dimensions)
    relative = plan.rule.endswith("baseline")
    zscore = plan.rule.startswith("zscore")
    columns = ("window", *dims, "value", "n", *(("baseline", "windows") if plan.has_baseline
                                                else ()),
               "z-score" if zscore else "deviation")
    rows = []
    for alert in alerts:
        deviation = alert.get("deviation")
        shown = (fmt.lift(deviation) if relative else f"{deviation:+.2f}" if zscore and
                 deviation is not None else fmt.delta(deviation, metric_format, unit))
        row = [f"{alert['period']:%Y-%m-%d %H:%M}" if isinstance(alert["period"], dt.datetime)
               else str(alert["period"])]
        row += [str(alert.get(d.lower(), alert.get(d))) for d in dims]
        row += [fmt.value(alert.get("value"), metric_format, unit), fmt.count(alert.get(
            "sample_n"))]
        if plan.has_baseline:
            row += [fmt.value(alert.get("baseline"), metric_format, unit),
                    fmt.count(alert.get("baseline_windows"))]
        row.append(shown)
        rows.append(tuple(row))
    span = (f"from {since:%Y-%m-%d %H:%M}" if since else "over all data") + (
        f" to {until:%Y-%m-%d %H:%M}" if until else "")
    if plan.series.timezone:  # windows are the project zone's wall-clock periods
        span += f" ({plan.series.timezone})"
    return MonitorReport(name=plan.name, kind=plan.kind, metric=plan.metric,
                         rule=rule_text(plan, metric_format, unit), range=span, columns=columns,
                         text_columns=("window", *dims), alerts=tuple(rows),
                         raw=tuple(alerts), coverage=coverage, min_n=plan.min_n)
