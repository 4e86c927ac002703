"""The diagnostics block of the experiment report, read before the metrics: the split by day
and segment, undeclared variants, early exposures, and the primary metrics over time.

`diagnostics_view` is DATA for every rendering (JSON as is; charts draw the cumulative lift
and the effect by day since exposure from it): day indices get their calendar dates and
metrics their labels. `render_diagnostics` is the minimal terminal text."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from metricspec import stats
from metricspec.plan.experiment import ExperimentPlan
from metricspec.report import fmt
from metricspec.safetext import printable


def _date(plan: ExperimentPlan, day: int | None) -> str | None:
    return None if day is None else f"{plan.local_start + dt.timedelta(days=day):%Y-%m-%d}"


def diagnostics_view(plan: ExperimentPlan, diag: stats.diagnostics.Diagnostics
                     ) -> dict[str, Any]:
    """The diagnostics as plain data, with dates beside day indices."""
    data = diag.to_dict()
    for row in data["by_day"]:
        row["date"] = _date(plan, row["day"])
    for point in (p for m in data["metrics"] for p in m["cumulative"]):
        point["date"] = _date(plan, point["day"])
    labels = {m.name: m.metric.label or m.name for m in plan.metrics}
    for m in data["metrics"]:
        m["label"] = labels.get(m["metric"], m["metric"])
    data["first_flagged_date"] = _date(plan, data["first_flagged_day"])
    data["first_unknown_date"] = _date(plan, data["first_unknown_day"])
    data["unknown_by_day"] = {_date(plan, int(k)): v for k, v in data["unknown_by_day"].items()}
    # the warnings name days by index; the report names them by date
    data["warnings"] = [_dated(plan, w, diag) for w in data["warnings"]]
    return data


def _dated(plan: ExperimentPlan, warning: str, diag: stats.diagnostics.Diagnostics) -> str:
    for day in (diag.first_flagged_day, diag.first_unknown_day):
        if day is not None:
            warning = warning.replace(f"day {day}", f"{_date(plan, day)} (day {day + 1})")
    return warning


def bulleted(text: Text, bullet: str = "• ", style: str = "") -> Table:
    """`bullet` then `text`, its wrapped lines indented under the text's first word rather
    than starting at the margin."""
    grid = Table.grid()
    grid.add_column(width=len(bullet), no_wrap=True)
    grid.add_column()
    grid.add_row(Text(bullet, style=style), text)
    return grid


def render_diagnostics(view: dict[str, Any], console: Console) -> None:
    """A few lines: each warning, or that all checks passed; the primaries over time."""
    warnings = view.get("warnings") or []
    title = Text("Diagnostics ", style="bold")
    if not warnings and not view.get("by_day"):
        # nothing was exposed: none of the checks had anything to judge
        console.print(Text.assemble(title, ("– ", "yellow"),
                                    ("not run: no exposures in the window", "yellow")))
    elif not warnings:
        console.print(Text.assemble(title, ("✓ ", "green"), (passed_text(view), "")))
    else:
        console.print(Text.assemble(title, ("! ", "bold yellow"),
                                    (f"{len(warnings)} finding(s)", "yellow")))
        for w in warnings:
            console.print(bulleted(Text(printable(w), style="yellow"), "  • ", "yellow"))
    for m in view.get("metrics", []):
        points = [p for p in m["cumulative"] if p["lift"] is not None]
        if not points:
            continue
        last = points[-1]
        trend = m["trend"]
        slope = ("no trend test (" + printable(trend["reason"]) + ")" if trend["slope"] is None
                 else f"trend {trend['slope']:+.3g}/day since exposure, "
                      f"{fmt.p_equals(trend['p_value'])}")
        console.print(bulleted(Text(
            f"{printable(m['label'])} · {printable(m['treatment'])} over time: cumulative "
            f"lift {fmt.lift(last['lift'])} [{fmt.lift(last['ci_low'])}, "
            f"{fmt.lift(last['ci_high'])}] on {last['date']} ({len(points)} days); {slope}",
            style="dim"), "  "))


def passed_text(view: dict[str, Any]) -> str:
    """What the checks found when none flagged anything, naming only the checks that ran (a
    trend test needs enough days: where it could not run, it says so)."""
    untested = [m for m in view.get("metrics", []) if m["trend"]["slope"] is None]
    trend = ("no trend in the primaries" if not untested else
             "trend test not run for " + ", ".join(
                 f"{printable(m['label'])} ({printable(m['trend']['reason'])})"
                 for m in untested))
    return (f"split even on each of {len(view['by_day'])} days and in every segment; no "
            f"undeclared variant; no unit exposed before the window; {trend}")


def render_not_run(console: Console) -> None:
    """The daily diagnostics did not run (statistics from a file, or the query failed)."""
    console.print(Text.assemble(("Diagnostics ", "bold"), ("– ", "yellow"),
                                ("not run", "yellow")))


def adjusted_view(plan: ExperimentPlan, adjusted: list[dict[str, Any]]
                  ) -> tuple[dict[str, Any], ...]:
    """The regression-adjusted comparisons as data, each with its effect as text in the
    metric's own format."""
    metrics = {m.name: m.metric for m in plan.metrics}
    out = []
    for item in adjusted:
        metric = metrics[item["metric"]]
        ols = _clean(dataclasses.asdict(item["ols"]))
        cuped = _clean(dataclasses.asdict(item["cuped"]))
        if ols["effect"] is None:
            text = ols["reason"] or "insufficient data"
        else:
            text = (f"Δ {fmt.delta(ols['effect'], metric.format, metric.unit)} "
                    f"[{fmt.delta(ols['ci_lower'], metric.format, metric.unit)}, "
                    f"{fmt.delta(ols['ci_upper'], metric.format, metric.unit)}], "
                    f"{fmt.p_equals(ols['p_value'])}")
            if ols["variance_reduction"] is not None:
                text += f", variance −{ols['variance_reduction'] * 100:.0f}%"
        out.append({"metric": item["metric"], "label": metric.label or item["metric"],
                    "treatment": item["treatment"], "covariates": list(item["covariates"]),
                    "text": text, "ols": ols, "cuped": cuped})
    return tuple(out)


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else
                list(v) if isinstance(v, tuple) else v) for k, v in data.items()}


def render_adjusted(rows: tuple[dict[str, Any], ...], console: Console) -> None:
    """One line per adjusted comparison (OLS with the covariates, HC1 interval)."""
    if not rows:
        return
    names = ", ".join(rows[0]["covariates"])
    console.print(Text.assemble(("Regression-adjusted ", "bold"), (
        printable(f"for {names} (OLS, HC1 robust 95% interval)"), "dim")))
    for row in rows:
        console.print(Text(f"  {printable(row['label'])} · {printable(row['treatment'])}: "
                           f"{printable(row['text'])}"))
