"""`metricspec demo`: build the example warehouse on embedded DuckDB and run everything the
example specs define — the experiments, the monitors, active users and a balance over the
week before, the month-grain KPI tree — printing their reports."""

from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from metricspec.cli.common import (
    PathsArg,
    SpecDirOpt,
    app,
    err,
    load_ok_or_exit,
    out,
    output_errors,
    usage_error,
)
from metricspec.outputs import check_writable, file_name, inside, write_text
from metricspec.resources import example_specs_dir
from metricspec.safetext import printable

if TYPE_CHECKING:
    from metricspec.run.connections import Connection
    from metricspec.semantic import Index

MONITORING_DAY = ("2026-11-16", "2026-11-17")


def _spec_paths(paths: list[Path] | None) -> list[Path]:
    if paths:
        return paths
    local = Path("specs")
    return [local if local.is_dir() else example_specs_dir()]


@app.command()
def demo(
    paths: PathsArg = None,
    spec_dir: SpecDirOpt = None,
    database: Annotated[Path, typer.Option(
        "--database", help="DuckDB file to build the example warehouse in.")] = Path(
        "metricspec.duckdb"),
    scale: Annotated[float, typer.Option(help="Size of the example data (1.0: 12,000 users, "
                                         "~1 M messages).")] = 1.0,
    reports: Annotated[Path, typer.Option(
        "--reports", help="Folder for the HTML reports.")] = Path("demo-reports"),
    rebuild: Annotated[bool, typer.Option(help="Rebuild the warehouse even if it exists.")] = (
        True),
) -> None:
    """Build the example warehouse and run the example experiments and monitors."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.rule import Rule
    from rich.text import Text

    from metricspec.analyze import analyze_rows, diagnose_rows
    from metricspec.demo import generate
    from metricspec.report.experiment import build_report
    from metricspec.report.html import render_html
    from metricspec.report.monitor import build_monitor_report
    from metricspec.report.terminal import render_experiment, render_monitor
    from metricspec.run.execute import run_daily, run_experiment, run_monitor

    if scale <= 0:
        usage_error("--scale must be positive")
    specs = _spec_paths(paths or spec_dir)
    ws = load_ok_or_exit(specs)
    with output_errors():
        check_writable(reports, folder=True)  # before building anything
    out.print(Text.assemble(("metricspec demo", "bold"),
                            f": {ws.summary()} from {printable(', '.join(map(str, specs)))}"))
    if rebuild or not database.exists():
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(
                "{task.percentage:>3.0f}%"), TimeElapsedColumn(), console=err,
                transient=True) as bar:
            task = bar.add_task("building the example warehouse", total=1.0)
            summary = generate(database, scale=scale, progress=lambda stage, done: bar.update(
                task, completed=done, description=f"building: {stage}"))
        rows = ", ".join(f"{table} {count:,}" for table, count in summary.rows.items())
        out.print(f"built {database} in {summary.seconds:.1f} s: {rows}", markup=False)
    from metricspec.cli.run_commands import progress, warehouse

    url = f"duckdb:///{database}"
    index = ws.index
    since, until = (dt.datetime.fromisoformat(d) for d in MONITORING_DAY)
    with warehouse(url) as conn, progress(True) as step:
        for name in sorted(index.experiments):
            run = run_experiment(index, name, conn, step)
            result = analyze_rows(run.plan, run.rows)
            diagnostics = diagnose_rows(run.plan, run_daily(run.plan, conn), result)
            report = build_report(run.plan, result, warehouse=url, timings=run.timings.steps,
                                  diagnostics=diagnostics)
            out.print(Rule(f"experiment {name}"))
            render_experiment(report, out, show_segments=False)
            with output_errors():
                html = inside(reports, file_name(name, ".html"))
                write_text(html, render_html(report))
            out.print(Text(f"HTML report with a forest plot: {html}", style="dim"))
        out.print(Rule(f"monitors and guardrails, {MONITORING_DAY[0]}"))
        for name in [*sorted(index.monitors), *sorted(index.guardrails)]:
            monitored = run_monitor(index, name, conn, since=since, until=until, progress=step)
            metric = index.metrics[monitored.plan.metric]
            render_monitor(build_monitor_report(monitored.plan, monitored.alerts, metric.format,
                                                metric.unit, since, until,
                                                monitored.coverage), out)
        _time_section(index, conn, since)
    # the folder the demo read, as a shell would take it (the installed examples when there
    # is no specs/ here)
    folder = printable(shlex.join(map(str, specs)))
    out.print(f"\nNext: open {printable(str(reports))}/ in a browser, run `metricspec compile "
              f"{folder} --dialect all`, or point `--warehouse` at your own warehouse.",
              markup=False)


#: The example metrics the demo shows over time (issue 12): exact active users over
#: trailing windows, DAU/MAU, a semi-additive balance; and the month-grain KPI tree.
TIME_METRICS = ("active_users", "weekly_active_users", "monthly_active_users", "stickiness",
                "backlog")
MONTH_TREE = ("monthly_engagement", "2026-10", "2026-09")


def _time_section(index: Index, conn: Connection, day: dt.datetime) -> None:
    """The week before the monitoring day by day, and the month-grain KPI tree."""
    from rich.rule import Rule

    from metricspec.cli.kpi_command import explain_periods, render_text
    from metricspec.cli.query_output import QueryFormat, emit_rows
    from metricspec.document.kpi_explain import Period
    from metricspec.plan.metric_query import Grain, plan_metric_query
    from metricspec.run.execute import run_metrics_costed

    shown = [m for m in TIME_METRICS if m in index.metrics]
    if shown:
        # the seven days before the monitoring day's eve, whose last hour already holds the
        # monitoring day's dense traffic (docs/demo-data.md: from 2026-11-15 23:00)
        end = day - dt.timedelta(days=1)
        out.print(Rule("active users and the ticket backlog, the week before"))
        plan = plan_metric_query(index, shown, grain=Grain("day"),
                                 start=end - dt.timedelta(days=7), end=end)
        rows = run_metrics_costed(index, shown, conn, plan=plan).rows
        emit_rows(rows, ["period", *shown], QueryFormat.table, index, shown)
    tree, month, before = MONTH_TREE
    if tree in index.kpis:
        out.print(Rule(f"KPI tree {tree}, {month} against {before}"))
        explanation, _ = explain_periods(index, tree, Period.parse(month),
                                         Period.parse(before), conn)
        render_text(explanation, index)
