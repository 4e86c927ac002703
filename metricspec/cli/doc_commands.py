"""Commands that write documents: plan (pre-registration) and docs (the catalog)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from metricspec.cli.common import (
    NoCacheOpt,
    PathsArg,
    SpecDirOpt,
    app,
    engine_ok_or_exit,
    err,
    load_ok_or_exit,
    local_time,
    name_or_exit,
    output_errors,
)
from metricspec.cli.settings import VERBOSITY, note


class PlanFormat(StrEnum):
    md = "md"
    json = "json"


@app.command()
def plan(
    experiment: Annotated[str, typer.Argument(help="The experiment to plan.")],
    paths: SpecDirOpt = None,
    fmt: Annotated[PlanFormat, typer.Option("--format", "-f", help="md or json.")] = (
        PlanFormat.md),
    url: Annotated[str | None, typer.Option(
        "--warehouse", "-w", help="Take baselines and traffic from this warehouse's history.",
        show_default=False)] = None,
    history_days: Annotated[int | None, typer.Option(
        help="Length of the historical window before the experiment (default: as long as the "
        "experiment).", show_default=False)] = None,
    output: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.",
                                                show_default=False)] = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Emit the pre-registered analysis plan: hypotheses, tests, power, decision rules."""
    from metricspec.document.analysis_plan import Baselines, build_plan, render_markdown
    from metricspec.plan.experiment import history_plan, plan_experiment

    ws = load_ok_or_exit(paths, relative=True, no_cache=no_cache)
    name_or_exit(ws, experiment, ("experiment",))
    engine_ok_or_exit(ws, [experiment], url=url)
    if output is not None:
        from metricspec.outputs import check_writable

        with output_errors():
            check_writable(output)  # before asking the warehouse for baselines
    planned = plan_experiment(ws.index, experiment)
    if url is None:
        baselines = Baselines.declared(planned)
    else:
        from metricspec import pipeline
        from metricspec.cli.run_commands import warehouse
        from metricspec.run.connections import redact_url
        from metricspec.run.execute import backend_of, execute, rows_of

        days = history_days or max(1, round((planned.end - planned.start).total_seconds()
                                            / 86400))
        start = planned.start - dt.timedelta(days=days)
        history = history_plan(planned, start, planned.start)
        source = f"{days} days of history before {planned.start:%Y-%m-%d} in {redact_url(url)}"
        with warehouse(url) as conn:
            query = pipeline.compile_plan("experiment", experiment, history, backend_of(conn),
                                          label="baseline query")
            rows = rows_of(execute(conn, query.sql, f"baselines for `{experiment}`"))
            explained = _regression_history(ws.index, history, conn, source)
        baselines = replace(Baselines.from_rows(rows, days, source), regression=explained)
    document = build_plan(planned, baselines)
    text = (json.dumps(document, indent=2, default=str) + "\n" if fmt is PlanFormat.json
            else render_markdown(document))
    if output is not None:
        from metricspec.outputs import write_text

        with output_errors():
            write_text(output, text)
        if not VERBOSITY.quiet:
            err.print(f"wrote {output}", markup=False)
    else:
        sys.stdout.write(text)


def _regression_history(index: Any, history: Any, conn: Any, source: str) -> Any:
    """R² of each adjusted metric on the experiment's covariates over the historical window
    (the regression query over `history`), or None when nothing is adjusted."""
    from metricspec.document.plan_regression import RegressionHistory
    from metricspec.plan.regression import plan_regression
    from metricspec.run.execute import run_regression

    reg = plan_regression(index, history)
    return None if reg is None else RegressionHistory.from_rows(
        reg, run_regression(reg, conn), source)



@app.command()
def docs(
    paths: PathsArg = None,
    spec_dir: SpecDirOpt = None,
    output: Annotated[Path, typer.Option("--out", "-o", help="Folder for the site.")] = Path(
        "site"),
    url: Annotated[str | None, typer.Option(
        "--warehouse", "-w", help="Also chart each metric's recent values and explain each KPI "
        "tree's change, from this warehouse.", show_default=False)] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help="End of the recent series, exclusive (default: today).",
        show_default=False)] = None,
    days: Annotated[int, typer.Option("--days", min=1, max=3660,
                                      help="Length of the recent series.")] = 56,
    period: Annotated[str | None, typer.Option(
        "--period", help="KPI trees: the period to explain (default: the last full month).",
        show_default=False)] = None,
    vs: Annotated[str | None, typer.Option(
        "--vs", help="KPI trees: the period to compare with (default: the month before).",
        show_default=False)] = None,
    reports: Annotated[Path | None, typer.Option(
        "--reports", help="Folder of experiment reports to link (default: OUT/reports).",
        show_default=False)] = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Write a browsable offline catalog: metrics, KPI trees, experiments, monitors."""
    from metricspec.backends import all_backends
    from metricspec.cli.common import parse_time, usage_error
    from metricspec.cli.docs_data import default_periods, found_reports, site_data
    from metricspec.document.docs import SiteData, build_site
    from metricspec.outputs import check_writable

    ws = load_ok_or_exit(paths or spec_dir, relative=True, no_cache=no_cache)
    engine_ok_or_exit(ws, url=url)
    if url is None and (period or vs or until):
        usage_error("--period, --vs and --until need --warehouse")
    with output_errors():
        check_writable(output, folder=True)  # before building the site, not after
    data = SiteData()
    if url is not None:
        from metricspec.cli.run_commands import warehouse
        from metricspec.document.kpi_explain import Period
        from metricspec.plan.lower import PlanError

        end = parse_time(until, "--until", ws.index.calendar) or dt.datetime.combine(
            local_time(ws.index.calendar).date(), dt.time())
        default_period, default_vs = default_periods(end)
        try:
            current, baseline = Period.parse(period or default_period), Period.parse(
                vs or default_vs)
        except PlanError as exc:
            usage_error(str(exc))
        with warehouse(url) as conn:
            data = site_data(ws.index, conn, until=end, days=days, period=current, vs=baseline)
    data.reports = found_reports(ws.index, output, reports or output / "reports")
    site = build_site(ws.index, ws.texts, list(all_backends().values()), data)
    with output_errors():
        written = site.write(output)
    note(f"wrote {len(written)} pages to {output}/ — open {output}/index.html")
