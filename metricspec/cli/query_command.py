"""`metricspec query`: metrics by period (and dimensions) from the warehouse, or the last two
periods compared by one dimension (`--compare`, with Simpson's paradox warnings)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from metricspec.cli.common import (
    DEFAULT_WAREHOUSE,
    DimensionOpt,
    GrainOpt,
    MaxScanOpt,
    NoCacheOpt,
    SinceOpt,
    SpecDirOpt,
    UntilOpt,
    WarehouseOpt,
    app,
    engine_ok_or_exit,
    load_ok_or_exit,
    name_or_exit,
    out,
    parse_max_scan,
    parse_time,
    usage_error,
)
from metricspec.cli.query_output import QueryFormat, emit_rows, with_where
from metricspec.cli.run_commands import WhereOpt, refuse_unplannable, warehouse


@app.command()
def query(
    metrics: Annotated[list[str], typer.Argument(help="Metrics to compute.")],
    paths: SpecDirOpt = None,
    url: WarehouseOpt = DEFAULT_WAREHOUSE,
    grain: GrainOpt = "day",
    dimension: DimensionOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    where: WhereOpt = None,
    fmt: Annotated[QueryFormat, typer.Option("--format", "-f", help="table, csv or json.")] = (
        QueryFormat.table),
    max_scan: MaxScanOpt = None,
    compare: Annotated[bool, typer.Option(
        "--compare", help="Compare the last two periods, overall and by the one --by "
        "dimension, and warn of Simpson's paradox.")] = False,
    weight: Annotated[str | None, typer.Option(
        "--weight", help="With --compare: a count metric whose split by the dimension is "
        "the mix tested for a shift between the periods.")] = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Compute metrics by period (and dimensions) on the warehouse."""
    from metricspec.plan.lower import PlanError
    from metricspec.plan.metric_query import Grain, plan_metric_query
    from metricspec.run.execute import run_metrics_costed

    budget = parse_max_scan(max_scan)
    ws = load_ok_or_exit(paths, no_cache=no_cache)
    for name in metrics:
        name_or_exit(ws, name, ("metric",))
    engine_ok_or_exit(ws, metrics, url=url)
    calendar = ws.index.calendar
    start = parse_time(since, "--since", calendar)
    end = parse_time(until, "--until", calendar)
    try:
        parsed_grain = Grain.parse(grain)
    except PlanError as exc:
        usage_error(str(exc))
    dimensions = tuple(dimension or ())
    if compare:
        from metricspec.cli.compare_command import compare as compare_periods

        if len(dimensions) != 1:
            usage_error("--compare compares by one dimension: give exactly one --by")
        if parsed_grain.unit == "none":
            usage_error("--compare compares the last two periods: give a grain, not none")
        if weight is not None:
            name_or_exit(ws, weight, ("metric",))

        def run(names: list[str], dims: tuple[str, ...]) -> list[dict[str, Any]]:
            plan = with_where(refuse_unplannable(lambda: plan_metric_query(
                ws.index, names, grain=parsed_grain, dimensions=dims, start=start, end=end)),
                where)
            with warehouse(url) as conn:
                return run_metrics_costed(ws.index, names, conn, plan=plan,
                                          budget=budget).rows

        compare_periods(metrics, dimensions[0], weight, run, fmt is QueryFormat.json)
        return
    # planned once, here, before any connection (plans are the same for every warehouse)
    plan = with_where(refuse_unplannable(lambda: plan_metric_query(
        ws.index, metrics, grain=parsed_grain, dimensions=dimensions, start=start, end=end)),
        where)
    with warehouse(url) as conn:
        result = run_metrics_costed(ws.index, metrics, conn, plan=plan, budget=budget)
    from metricspec.plan.calendar import label_fiscal_rows

    rows = label_fiscal_rows(result.rows, plan.grain)  # fiscal grains: `FY2027 Q1` labels
    columns = list(rows[0]) if rows else [*(["period"] if plan.grain.unit != "none" else []),
                                          *dimensions, *metrics]
    emit_rows(rows, columns, fmt, ws.index, metrics)
    if result.cost is not None and fmt is QueryFormat.table:
        from metricspec.report.terminal import plain

        out.print(plain(f"scanned: {result.cost.summary()}", "dim"))
