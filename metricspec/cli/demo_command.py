"""`metricspec demo`: build the example warehouse on embedded DuckDB and run everything the
example specs define — the experiments and the monitors — printing their reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
                            f": {ws.summary()} from {', '.join(map(str, specs))}"))
    if rebuild or not database.exists():
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(
                "{task.percentage:>3.0f}%"), TimeElapsedColumn(), console=err,
                transient=True) as bar:
            task = bar.add_task("building the example warehouse", total=1.0)
            summary = generate(database, scale=scale, progress=lambda stage, done: bar.update(
                task, completed=done, description=f"building: {stage}"))
        rows = ", ".join(f"{table} {count:,}" for table, count in summary.rows.items())
        out.print(f"built {database} in {summary.seconds:.1f} s: {rows}", markup=False)
    import datetime as dt

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
    out.print(f"\nNext: open {reports}/ in a browser, run `metricspec compile specs --dialect all`"
              ", or point `--warehouse` at your own warehouse.", markup=False)
