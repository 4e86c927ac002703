"""`metricspec kpi NAME --period … --vs …`: a KPI tree's values in two periods and why its
north star moved (see `document.kpi_explain`). Runs one metric query for every metric of the
tree per period and the tree's reconciliation query, then explains; text, JSON or HTML."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from metricspec.cli.common import (
    DEFAULT_WAREHOUSE,
    NoCacheOpt,
    SpecDirOpt,
    WarehouseOpt,
    app,
    engine_ok_or_exit,
    err,
    load_ok_or_exit,
    name_or_exit,
    out,
    output_errors,
    usage_error,
)
from metricspec.cli.run_commands import FormatOpt, OutputFormat, refuse_unplannable, warehouse

if TYPE_CHECKING:
    from metricspec.document.kpi_explain import KpiExplanation, Period
    from metricspec.run.connections import Connection
    from metricspec.semantic import Index

PERIOD_HELP = ("A month (2026-11), a day (2026-11-03) or days within one month "
               "(2026-11-01..2026-11-15).")


def tree_values(index: Index, name: str, period: Period, conn: Connection
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every metric of the tree over the period (one row), and the reconciliation rows."""
    from metricspec import pipeline
    from metricspec.plan.kpi import plan_kpi
    from metricspec.plan.metric_query import plan_metric_query
    from metricspec.run.execute import backend_of, execute, rows_of, run_metrics

    kpi = index.kpis[name]
    names = list(dict.fromkeys(
        [*([kpi.north_star.name] if kpi.north_star else []),
         *(n for e in kpi.edges for n in (e.parent.name, *(d.metric.name for d in e.drivers)))]))
    plan = refuse_unplannable(lambda: plan_metric_query(
        index, names, grain=period.grain, start=period.start, end=period.end, title=name))
    rows = run_metrics(index, names, conn, plan=plan)
    kplan = refuse_unplannable(lambda: plan_kpi(index, name, grain=period.grain,
                                                start=period.start, end=period.end))
    reconciled: list[dict[str, Any]] = []
    if kplan.series is not None:
        compiled = pipeline.compile_plan("kpi", name, kplan, backend_of(conn))
        reconciled = rows_of(execute(conn, compiled.sql, f"reconciliation of `{name}`"))
    return (rows[0] if rows else {}), reconciled


def explain_periods(index: Index, name: str, period: Period, baseline: Period,
                    conn: Connection) -> tuple[KpiExplanation, dict[str, Any]]:
    from metricspec.document.kpi_explain import explain

    after, rec_after = tree_values(index, name, period, conn)
    before, rec_before = tree_values(index, name, baseline, conn)
    explanation = explain(index.kpis[name], index.metrics, before, after, period.text,
                          baseline.text)
    return explanation, {"period": rec_after, "vs": rec_before}


@app.command()
def kpi(
    name: Annotated[str, typer.Argument(help="The KPI tree.")],
    period: Annotated[str, typer.Option("--period", help=PERIOD_HELP, show_default=False)],
    vs: Annotated[str, typer.Option("--vs", help="The period to compare with. " + PERIOD_HELP,
                                    show_default=False)],
    paths: SpecDirOpt = None,
    url: WarehouseOpt = DEFAULT_WAREHOUSE,
    fmt: FormatOpt = OutputFormat.text,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Also write a self-contained HTML page (tree with numbers, waterfall).",
        show_default=False)] = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """A KPI tree's values in two periods, and each driver's part in the north star's change."""
    from metricspec.document.kpi_explain import Period
    from metricspec.plan.lower import PlanError

    ws = load_ok_or_exit(paths, no_cache=no_cache)
    name_or_exit(ws, name, ("kpi",))
    engine_ok_or_exit(ws, [name], url=url)
    try:
        current, baseline = Period.parse(period), Period.parse(vs)
    except PlanError as exc:
        usage_error(str(exc))
    if html is not None:
        from metricspec.outputs import check_writable

        with output_errors():
            check_writable(html)
    with warehouse(url) as conn:
        explanation, reconciled = explain_periods(ws.index, name, current, baseline, conn)
    if html is not None:
        from metricspec.document.kpi_page import render_kpi_page
        from metricspec.outputs import write_text

        page = render_kpi_page(ws.index, explanation)
        with output_errors():
            write_text(html, page)
        err.print(f"wrote {html}", markup=False)
    if fmt is OutputFormat.json:
        payload = asdict(explanation)
        payload["reconciliation"] = reconciled
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    else:
        render_text(explanation, ws.index)
    star = explanation.north_star
    if star is None or explanation.nodes[star].change is None:
        raise typer.Exit(4)  # no data in a period: nothing to conclude, never "no change"


def render_text(ex: KpiExplanation, index: Index) -> None:
    """Node values and changes, then the north star's change broken down; fits 80 columns
    (long labels wrap, numbers never do)."""
    from rich.table import Table

    from metricspec.report import fmt as number
    from metricspec.report.terminal import plain

    def shown(metric: str, value: float | None, delta: bool = False) -> str:
        """The number in the metric's format; a unit other than ms goes with the label."""
        m = index.metrics.get(metric)
        f, unit = (m.format, m.unit) if m else (None, None)
        unit = unit if unit == "ms" else None
        return (number.delta if delta else number.value)(value, f, unit)

    def label(metric: str) -> str:
        m = index.metrics.get(metric)
        unit = m.unit if m and m.unit not in (None, "ms", "1", "point") and m.format not in (
            "percent", "currency") else None
        return ex.nodes[metric].label + (f" ({unit})" if unit else "")

    style = {"good": "green", "bad": "red", "neutral": ""}
    out.print(plain(f"KPI tree {ex.name}: {ex.period} vs {ex.baseline}", "bold"))
    table = Table(header_style="bold", expand=False, pad_edge=False)
    table.add_column("metric", min_width=14, overflow="fold")
    for title in (ex.baseline, ex.period, "change"):  # numbers wrap at spaces, never cut
        table.add_column(plain(title), justify="right", overflow="fold")
    for node in ex.nodes.values():
        change = shown(node.metric, node.change, delta=True)
        if node.relative is not None:
            change += f" ({number.lift(node.relative)})"
        table.add_row(plain(label(node.metric)), plain(shown(node.metric, node.before)),
                      plain(shown(node.metric, node.after)), plain(change, style[node.tone]))
    out.print(table)
    star = ex.north_star
    if star is None or ex.nodes[star].change is None:
        out.print(plain("No change to explain: the north star has no value in a period."))
        return
    out.print(plain(f"Why {ex.nodes[star].label} moved "
                    f"({shown(star, ex.nodes[star].change, delta=True)}):", "bold"))
    parts = Table(header_style="bold", expand=False, pad_edge=False)
    parts.add_column("driver", min_width=14, overflow="fold")
    parts.add_column("contribution", justify="right", overflow="fold")
    total = ex.nodes[star].change or 0.0
    parts.add_column("share", justify="right", overflow="fold")
    for metric, amount in ex.breakdown:
        parts.add_row(plain(ex.nodes[metric].label), plain(shown(star, amount, delta=True)),
                      plain(number.lift(amount / total) if total else "–"))
    if ex.unexplained is not None:
        parts.add_row(plain("unexplained (residual)", "italic"),
                      plain(shown(star, ex.unexplained, delta=True)),
                      plain(number.lift(ex.unexplained / total) if total else "–"))
    out.print(parts)
    for edge in ex.edges:
        line = f"{edge.parent} <- {edge.composition}: "
        if edge.method == "none":
            line += edge.note or "not decomposed"
        else:
            residual = shown(edge.parent, edge.residual, delta=True)
            line += f"{edge.method}, residual {residual}"
        out.print(plain(line, "dim"))
