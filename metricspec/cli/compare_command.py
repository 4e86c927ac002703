"""`query --compare`: a metric in the last two periods, overall and by one dimension, with
Simpson's paradox said out loud (issue 11).

The query runs twice — by the dimension, and overall — over the same time range and
grain; the last two periods the overall query returns are compared. With `--weight`, a
count metric, each segment's share of that count in each period is the mix, and a
chi-square test says whether it shifted more than chance.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from metricspec.cli.common import out, usage_error


def compare(metrics: list[str], dimension: str, weight: str | None,
            query: Callable[[list[str], tuple[str, ...]], list[dict[str, Any]]],
            json_output: bool) -> None:
    """Run the two queries through `query(metrics, dimensions)` and print the comparison."""
    from metricspec.plan.joins import output_names
    from metricspec.report.terminal import plain
    from metricspec.stats.simpson import compare_periods

    asked = [*metrics, *([weight] if weight and weight not in metrics else [])]
    overall_rows = query(asked, ())
    periods = sorted({str(r["period"]) for r in overall_rows})[-2:]
    if len(periods) < 2:
        usage_error("--compare needs two periods of data: widen --since/--until or use a "
                    "finer --grain")
    by_rows = query(asked, (dimension,))
    column = next((c for c in (by_rows[0] if by_rows else {}) if c not in
                   ("period", *asked)), output_names((dimension,), ())[0])
    before, after = periods

    def pair(rows: list[dict[str, Any]], metric: str, value: object = None,
             keyed: bool = False) -> tuple[Any, Any]:
        found = {str(r["period"]): r[metric] for r in rows
                 if not keyed or str(r.get(column)) == str(value)}
        return found.get(before), found.get(after)

    values = sorted({str(r.get(column)) for r in by_rows if str(r["period"]) in periods})
    results = []
    for metric in metrics:
        segments = {v: pair(by_rows, metric, v, True) for v in values}
        weights = ({v: tuple(float(x or 0) for x in pair(by_rows, weight, v, True))
                    for v in values} if weight else None)
        results.append(compare_periods(metric, dimension, (before, after),
                                       pair(overall_rows, metric), segments,
                                       weights))  # type: ignore[arg-type]
    if json_output:
        sys.stdout.write(json.dumps([r.to_dict() for r in results], indent=2) + "\n")
        return
    from rich.table import Table

    for result in results:
        table = Table(header_style="bold", title=plain(f"{result.metric} by {dimension}"))
        for name in (dimension, before, after, "change"):
            table.add_column(plain(name), justify="left" if name == dimension else "right")
        for value, (a, b) in [*result.segments.items(), ("(overall)", result.overall)]:
            change = "" if a is None or b is None else f"{b - a:+.4g}"
            table.add_row(plain(value), plain(_number(a)), plain(_number(b)), plain(change))
        out.print(table)
        if result.finding.message:
            out.print(plain(f"warning: {result.finding.message}", "bold yellow"))


def _number(value: object) -> str:
    return "–" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)
