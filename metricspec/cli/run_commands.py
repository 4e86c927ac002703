"""Commands that talk to a warehouse or to analysis results: run, analyze, monitor, query.

The library (connections, the pipeline, the statistics engine, reports) is imported inside
each command, so loading the command line for another command costs none of it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from metricspec.cli.common import (
    DEFAULT_WAREHOUSE,
    MaxScanOpt,
    NoCacheOpt,
    SinceOpt,
    SpecDirOpt,
    UntilOpt,
    WarehouseOpt,
    app,
    engine_ok_or_exit,
    err,
    error_line,
    load_ok_or_exit,
    name_or_exit,
    out,
    output_errors,
    parse_max_scan,
    parse_time,
    usage_error,
)
from metricspec.cli.lock_command import pinned_or_exit
from metricspec.cli.query_output import (
    monitor_with_where,
)
from metricspec.cli.settings import VERBOSITY
from metricspec.outputs import check_writable, replacing, write_text

if TYPE_CHECKING:
    from metricspec.run.connections import Connection


T = TypeVar("T")


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


WhereOpt = Annotated[str | None, typer.Option(
    "--where", help="Filter on the metrics' dimensions, as a spec's `where`: "
    "\"channel = 'chat'\".", show_default=False)]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
HtmlOpt = Annotated[Path | None, typer.Option(
    "--html", help="Also write a self-contained HTML report with a forest plot here.",
    show_default=False)]


def warehouse_error(message: str) -> typer.Exit:
    error_line(message, "MS903", label="warehouse error")
    return typer.Exit(3)


@contextmanager
def warehouse(url: str) -> Iterator[Connection]:
    """Open the warehouse, turning every connection or run failure into exit status 3."""
    from metricspec.run.connections import WarehouseError, connect
    from metricspec.run.execute import RunError

    try:
        conn = connect(url)
    except WarehouseError as exc:
        raise warehouse_error(str(exc)) from None
    try:
        yield conn
    except (RunError, WarehouseError) as exc:
        raise warehouse_error(str(exc)) from None
    finally:
        conn.close()


def refuse_unplannable(plan: Callable[[], T]) -> T:
    """Plan a request before any connection is opened: a request the specs cannot answer
    (a dimension the metric's sources lack, a grain a window does not fit, an empty time
    range) is a usage error, exit 2, not a warehouse error."""
    from metricspec.plan.lower import PlanError

    try:
        return plan()
    except PlanError as exc:
        usage_error(str(exc))


@contextmanager
def progress(enabled: bool) -> Iterator[Any]:
    """A spinner naming the current step and its elapsed time, on stderr."""
    if not enabled or not err.is_terminal:
        yield lambda step: None
        return
    with err.status("starting", spinner="dots") as status:
        yield lambda step: status.update(f"{step}…")


def plan_progress(plan: Any, result: Any, conn: Connection | None = None) -> Any:
    """How far the experiment is against its analysis plan, for the HTML report: baselines
    as declared, else (with a connection) from as many days of history before the experiment
    as it lasts, as `metricspec plan --warehouse` takes them."""
    import datetime as dt

    from metricspec.document.analysis_plan import Baselines, build_plan
    from metricspec.report.progress import progress_of

    baselines = Baselines.declared(plan)
    if conn is not None and not all(
            m.name in baselines.moments for m in plan.metrics if m.role == "primary"):
        from metricspec import pipeline
        from metricspec.plan.experiment import history_plan
        from metricspec.run.execute import backend_of, execute, rows_of

        days = max(1, round((plan.end - plan.start).total_seconds() / 86400))
        history = history_plan(plan, plan.start - dt.timedelta(days=days), plan.start)
        query = pipeline.compile_plan("experiment", plan.experiment.name, history,
                                      backend_of(conn), label="baseline query")
        rows = rows_of(execute(conn, query.sql, f"baselines for `{plan.experiment.name}`"))
        baselines = Baselines.from_rows(rows, days, f"{days} days of history")
    document = build_plan(plan, baselines)
    return progress_of(document, result.srm.observed, plan.start, plan.end,
                       dt.datetime.now(dt.UTC).replace(tzinfo=None))  # start, end: UTC


def emit_experiment(report: Any, result: Any, fmt: OutputFormat, html: Path | None,
                    segments: bool = True, advance: Any = None) -> None:
    from metricspec.report.experiment import report_json
    from metricspec.report.html import render_html
    from metricspec.report.terminal import render_experiment

    # The HTML file is written before the report is printed: when it cannot be written, the
    # command says so and exits 3 instead of printing a report and then failing.
    if html is not None:
        with output_errors():
            write_text(html, render_html(report, advance))
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(report_json(report, result), indent=2, default=str) + "\n")
    else:
        render_experiment(report, out, show_segments=segments)
    if html is not None and not VERBOSITY.quiet:
        err.print(f"wrote {html}", markup=False)


def check_outputs(*paths: Path | None) -> None:
    """Before any work: exit 3 with MS910 when an output file could not be created."""
    with output_errors():
        for path in paths:
            if path is not None:
                check_writable(path)


def exit_unless_analysed(result: Any) -> None:
    """Exit 4 after the report when the analysis could not be done at all (no rows, no
    exposed units, none of the declared variants): no data is not a verdict."""
    from metricspec.stats import Outcome

    if result.decision.outcome is Outcome.CANNOT_ANALYSE:
        raise typer.Exit(4)


LookOpt = Annotated[int | None, typer.Option(
    "--look", min=1, show_default=False,
    help="Group-sequential designs: the planned look being analysed (default: the look the "
         "exposed units have reached, from the planned traffic; else the last).")]


def check_look(index: Any, experiment: str, look: int | None) -> None:
    """Refuse `--look` for an experiment without planned looks, or beyond the last one."""
    if look is None:
        return
    seq = index.experiments[experiment].sequential
    if seq is None or seq.spending is None or seq.looks is None:
        usage_error(f"--look: experiment `{experiment}` has no group-sequential design "
                    "(`sequential looks K spending obrien_fleming`)")
    elif look > seq.looks:
        usage_error(f"--look {look}: experiment `{experiment}` plans {seq.looks} looks")


@app.command()
def run(
    experiment: Annotated[str, typer.Argument(help="The experiment to run.")],
    paths: SpecDirOpt = None,
    url: WarehouseOpt = DEFAULT_WAREHOUSE,
    fmt: FormatOpt = OutputFormat.text,
    html: HtmlOpt = None,
    segments: Annotated[bool, typer.Option(help="Show segment results.")] = True,
    stats_out: Annotated[Path | None, typer.Option(
        "--save-stats", help="Also save the sufficient statistics (CSV) here.",
        show_default=False)] = None,
    max_scan: MaxScanOpt = None,
    look: LookOpt = None,
    incremental: Annotated[bool, typer.Option(
        "--incremental", help="Keep the experiment's per-unit state in the warehouse's "
        "`metricspec_state` schema and read only the rows since the last refresh "
        "(docs/engines.md).")] = False,
    lookback: Annotated[str, typer.Option(
        "--lookback", help="With --incremental: how late rows may arrive (`2d`, `36h`).")] = "1d",
    no_cache: NoCacheOpt = False,
) -> None:
    """Compile, run and analyse an experiment; print its report."""
    from metricspec.analyze import analyze_rows, diagnose_rows, regress_rows
    from metricspec.plan.regression import plan_regression
    from metricspec.report.experiment import build_report
    from metricspec.run.connections import redact_url
    from metricspec.run.execute import RunError, run_daily, run_experiment, run_regression
    from metricspec.stats import LongFormatError

    budget = parse_max_scan(max_scan)
    ws = load_ok_or_exit(paths, no_cache=no_cache)
    name_or_exit(ws, experiment, ("experiment",))
    engine_ok_or_exit(ws, [experiment], url=url)
    check_look(ws.index, experiment, look)
    check_outputs(html, stats_out)
    pinned = pinned_or_exit(ws, experiment, paths)
    from metricspec.cli.incremental_option import incremental_or_exit

    refresh_with = incremental_or_exit(pinned.index, experiment, lookback, budget) if (
        incremental) else None
    with warehouse(url) as conn, progress(fmt is OutputFormat.text) as step:
        result_run = (run_experiment(pinned.index, experiment, conn, step, budget)
                      if refresh_with is None else refresh_with(conn, step))
        step("analysing")
        try:
            result = analyze_rows(result_run.plan, result_run.rows, look)
        except LongFormatError as exc:  # statistics no real data can give: not a verdict
            raise warehouse_error(f"the experiment query returned unusable statistics: {exc}"
                                  ) from None
        step("running the daily diagnostics")
        try:
            diagnostics = diagnose_rows(result_run.plan, run_daily(result_run.plan, conn),
                                        result)
        except RunError as exc:  # the report still stands; it says the checks did not run
            diagnostics = None
            error_line(f"daily diagnostics not run: {exc}")
        adjusted = None
        regression = plan_regression(ws.index, result_run.plan)
        if regression is not None:
            step("running the regression adjustment")
            try:
                adjusted = regress_rows(regression, run_regression(regression, conn))
            except RunError as exc:
                error_line(f"regression adjustment not run: {exc}")
        advance = plan_progress(result_run.plan, result, conn) if html is not None else None
    if stats_out is not None:
        from metricspec.stats import write_csv
        from metricspec.stats.longformat import read_rows

        with output_errors(), replacing(stats_out) as temporary:
            write_csv(read_rows(result_run.rows), temporary)
    report = build_report(result_run.plan, result, warehouse=redact_url(url),
                          timings=result_run.timings.steps, scan=result_run.cost,
                          pinned=pinned.line, diagnostics=diagnostics, adjusted=adjusted)
    emit_experiment(report, result, fmt, html, segments, advance)
    exit_unless_analysed(result)


@app.command()
def analyze(
    experiment: Annotated[str, typer.Argument(help="The experiment the statistics belong to.")],
    stats_file: Annotated[Path, typer.Option(
        "--stats", help="Sufficient statistics in the long format (CSV or Parquet).")],
    paths: SpecDirOpt = None,
    fmt: FormatOpt = OutputFormat.text,
    html: HtmlOpt = None,
    look: LookOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Analyse a sufficient-statistics file exported from any warehouse."""
    from metricspec.analyze import analyze_data
    from metricspec.plan.experiment import plan_experiment
    from metricspec.report.experiment import build_report
    from metricspec.stats import LongFormatError, read_csv, read_parquet

    ws = load_ok_or_exit(paths, no_cache=no_cache)
    name_or_exit(ws, experiment, ("experiment",))
    check_look(ws.index, experiment, look)
    if not stats_file.is_file():
        usage_error(f"no such file: {stats_file}")
    check_outputs(html)
    reader = read_parquet if stats_file.suffix.lower() in (".parquet", ".pq") else read_csv
    try:
        data = reader(stats_file, experiment=experiment)
    except LongFormatError as exc:
        error_line(str(exc))
        raise typer.Exit(2) from None  # a malformed or impossible statistics file
    pinned = pinned_or_exit(ws, experiment, paths)
    plan = plan_experiment(pinned.index, experiment)
    result = analyze_data(plan, data, look)
    report = build_report(plan, result, warehouse=f"statistics file {stats_file}",
                          pinned=pinned.line)
    emit_experiment(report, result, fmt, html)
    exit_unless_analysed(result)


@app.command()
def monitor(
    names: Annotated[list[str] | None, typer.Argument(
        help="Monitors or guardrails to evaluate (default: all).", show_default=False)] = None,
    paths: SpecDirOpt = None,
    url: WarehouseOpt = DEFAULT_WAREHOUSE,
    since: SinceOpt = None,
    until: UntilOpt = None,
    where: WhereOpt = None,
    fmt: FormatOpt = OutputFormat.text,
    max_scan: MaxScanOpt = None,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Also write a self-contained HTML page charting each monitor's series.",
        show_default=False)] = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Evaluate monitors and guardrails; exit 1 when any alert fires."""
    from metricspec.plan.monitor import plan_monitor
    from metricspec.report.monitor import build_monitor_report
    from metricspec.report.terminal import render_monitor
    from metricspec.run.execute import run_monitor

    budget = parse_max_scan(max_scan)
    ws = load_ok_or_exit(paths, no_cache=no_cache)
    index = ws.index
    chosen = names or [*sorted(index.monitors), *sorted(index.guardrails)]
    for name in chosen:
        name_or_exit(ws, name, ("monitor", "guardrail"))
    engine_ok_or_exit(ws, chosen, url=url)
    calendar = ws.index.calendar
    start = parse_time(since, "--since", calendar)
    end = parse_time(until, "--until", calendar)
    # planned once, here, before any connection (plans are the same for every warehouse)
    plans = refuse_unplannable(lambda: {n: plan_monitor(index, n, start=start, end=end)
                                        for n in chosen})
    plans = {n: monitor_with_where(p, where) for n, p in plans.items()}
    check_outputs(html)
    reports, sections = [], []
    with warehouse(url) as conn, progress(fmt is OutputFormat.text) as step:
        for name in chosen:
            result = run_monitor(index, name, conn, since=start, until=end, progress=step,
                                 plan=plans[name], budget=budget)
            metric = index.metrics[result.plan.metric]
            report = build_monitor_report(result.plan, result.alerts, metric.format,
                                          metric.unit, start, end, result.coverage)
            if result.cost is not None:
                report = replace(report, scan=result.cost.to_json(),
                                 scan_summary=result.cost.summary())
            reports.append(report)
            if html is not None:
                sections.append(monitor_section(reports[-1], result.plan, conn,
                                                metric.format, budget))
    if html is not None:
        from metricspec.report.monitor_html import render_monitor_html

        with output_errors():
            write_text(html, render_monitor_html(sections))
        err.print(f"wrote {html}", markup=False)
    if fmt is OutputFormat.json:
        payload = {"version": 1, "firing": any(r.firing for r in reports),
                   "monitors": [r.to_dict() for r in reports]}
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    else:
        for report in reports:
            render_monitor(report, out)
    # 1: an alert fires; 4: no alert, but some monitor had no window with enough data to judge
    raise typer.Exit(1 if any(r.firing for r in reports) else
                     4 if any(r.status == "insufficient_data" for r in reports) else 0)


def monitor_section(report: Any, plan: Any, conn: Connection, metric_format: str | None,
                    budget: Any = None) -> Any:
    """The monitor's series (every window of its range, judged as the alert query judges it)
    for the HTML page."""
    from metricspec.report.monitor_html import MonitorSection
    from metricspec.run.execute import run_monitor_series

    series = run_monitor_series(plan, conn, name=report.name, kind=plan.kind, budget=budget)
    return MonitorSection(report, plan, series, metric_format)
