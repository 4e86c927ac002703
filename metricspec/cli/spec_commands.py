"""Commands that work on specs alone: check, compile, sql."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from metricspec.cli.common import (
    DialectOpt,
    DimensionOpt,
    GrainOpt,
    NoCacheOpt,
    PathsArg,
    SinceOpt,
    SpecDirOpt,
    UntilOpt,
    app,
    cache_or_none,
    counting,
    dialects_or_exit,
    engine_ok_or_exit,
    err,
    error_line,
    load_ok_or_exit,
    load_or_exit,
    name_or_exit,
    out,
    output_errors,
    parse_time,
    usage_error,
)
from metricspec.cli.settings import VERBOSITY, Stopwatch, note
from metricspec.forked import cores


class CheckFormat(StrEnum):
    text = "text"
    json = "json"
    github = "github"


@app.command()
def check(
    paths: PathsArg = None,
    spec_dir: SpecDirOpt = None,
    fmt: Annotated[CheckFormat, typer.Option("--format", "-f", help="Output format.")] = (
        CheckFormat.text),
    dialect: DialectOpt = None,
    strict: Annotated[bool, typer.Option(help="Fail on warnings too.")] = False,
    no_cache: NoCacheOpt = False,
) -> None:
    """Check specs without a warehouse and report every problem precisely."""
    backends = dialects_or_exit(dialect)
    ws = load_or_exit(paths or spec_dir, backends,
                      cache=cache_or_none(paths or spec_dir, no_cache))
    if fmt is CheckFormat.text:
        shown = ws.errors if VERBOSITY.quiet and not strict else ws.diagnostics
        if shown:
            out.print(ws.render("text", shown, out.width), markup=False)
            out.print()
        verdict = ("[green]ok[/]" if ws.ok and not (strict and ws.warnings)
                   else "[red]failed[/]")
        if not VERBOSITY.quiet:
            out.print(f"{verdict}: {ws.summary()}; {len(ws.errors)} error(s), "
                      f"{len(ws.warnings)} warning(s)", markup=True)
    else:
        text = ws.render(fmt.value)
        if text:
            sys.stdout.write(text + "\n")
    failed = bool(ws.errors) or (strict and bool(ws.warnings))
    raise typer.Exit(1 if failed else 0)


@app.command("compile")
def compile_(
    paths: PathsArg = None,
    spec_dir: SpecDirOpt = None,
    dialect: DialectOpt = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("build"),
    per_metric: Annotated[bool, typer.Option(
        "--per-metric", help="Also write one query per metric (by default metrics are "
        "compiled per source group: one scan of each source for all its metrics).")] = False,
    up_to_date: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 when the output folder is not what compiling "
        "would write (for builds committed to the repository).")] = False,
    no_cache: NoCacheOpt = False,
) -> None:
    """Compile every metric, experiment, monitor, guardrail and KPI tree to SQL files.

    Files are written atomically; `manifest.json` last, only when everything compiled.
    """
    from metricspec.cli.settings import root_for
    from metricspec.outputs import check_writable
    from metricspec.pipeline import write_all
    from metricspec.rebuild import build
    from metricspec.workspace import NoSpecFiles

    backends = dialects_or_exit(dialect, ("duckdb",))
    clock = Stopwatch()  # --verbose: each step's time on stderr
    paths = paths or spec_dir or [Path("specs")]
    cache = cache_or_none(paths, no_cache)

    def ready(summary: str) -> None:  # checked, without errors: before the compiling
        clock.step(f"loaded and checked {summary}")
        if not up_to_date:
            with output_errors():
                check_writable(out_dir, folder=True)

    try:
        # spec files are named relative to the project root in the SQL headers, so a build
        # is the same from any folder and machine (`compile specs` = `compile /abs/specs`);
        # with the cache, only what changed since the last build is built again
        with counting("compiling") as progress:
            done = build(paths, backends, root=root_for(paths), cache=cache,
                         per_metric=per_metric, workers=cores(), progress=progress,
                         ready=ready)
    except NoSpecFiles as exc:
        usage_error(str(exc), exc.code)
    if not done.ok:
        out.print(done.render("text", width=out.width), markup=False)
        err.print(f"[red]failed[/]: {len(done.errors)} error(s); nothing compiled", markup=True)
        raise typer.Exit(1)
    compiled, failed = done.compiled, done.failed
    told = [f"{cache.hits} from the cache"] if cache else []
    told += ["only what changed since the last build built again"] if done.incremental else []
    clock.step(f"compiled {len(compiled)} queries" + (f" ({'; '.join(told)})" if told else ""))
    if up_to_date:
        _exit_unless_up_to_date(compiled, failed, out_dir)
    with output_errors():
        written = write_all(compiled, out_dir, complete=not failed)
    clock.step(f"wrote {len(written)} changed file(s)")
    for failure in failed:
        error_line(str(failure))
    per_backend = ", ".join(f"{b.name}: {sum(q.backend.name == b.name for q in compiled)}"
                            for b in backends)
    note(f"compiled {len(compiled)} queries ({per_backend}) into {out_dir}/; "
         f"{len(written)} file(s) changed")
    if failed:
        err.print(f"[red]failed[/]: {len(failed)} object(s) could not be compiled; no "
                  "manifest.json written", markup=True)
    raise typer.Exit(1 if failed else 0)


def _compile_where(index: Any, name: str, backend: Any, request: Any, where: str) -> Any:
    """`sql NAME --where …`: the object planned, restricted as `query`/`monitor` are."""
    from metricspec import pipeline
    from metricspec.cli.query_output import monitor_with_where, with_where

    kind = pipeline.object_kind(index, name)
    if kind not in ("metric", "monitor", "guardrail"):
        usage_error(f"--where applies to metrics, monitors and guardrails, not to the {kind} "
                    f"`{name}`")
    from metricspec.plan.metric_query import MetricQueryPlan

    plan = pipeline.plan_kind(kind, index, name, request)
    plan = (with_where(plan, where) if isinstance(plan, MetricQueryPlan)
            else monitor_with_where(plan, where))
    return pipeline.compile_plan(kind, name, plan, backend)


def _exit_unless_up_to_date(compiled: list[Any], failed: list[Any], out_dir: Path) -> None:
    from metricspec.pipeline.write import stale

    for failure in failed:
        error_line(str(failure))
    changed = stale(compiled, out_dir)
    for path in changed:
        error_line(f"{out_dir}/{path} is not up to date", label="stale")
    if not (changed or failed):
        note(f"{out_dir}/ is up to date: {len(compiled)} queries")
    elif changed:
        err.print(f"[red]failed[/]: {len(changed)} file(s) in {out_dir}/ differ from what "
                  f"`metricspec compile` writes; run it and commit the result", markup=True)
    raise typer.Exit(1 if changed or failed else 0)


@app.command()
def sql(
    name: Annotated[str, typer.Argument(help="A metric, experiment, monitor, guardrail or KPI "
                                        "tree.")],
    paths: SpecDirOpt = None,
    dialect: Annotated[str, typer.Option("--dialect", "-d", help="Warehouse dialect.")] = (
        "duckdb"),
    grain: GrainOpt = "day",
    dimension: DimensionOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    where: Annotated[str | None, typer.Option(
        "--where", help="Filter on the dimensions of a metric, monitor or guardrail, as "
        "`query --where`.", show_default=False)] = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Print the SQL of one object."""
    from metricspec import pipeline
    from metricspec.plan.lower import PlanError
    from metricspec.plan.metric_query import Grain

    [backend] = dialects_or_exit([dialect])
    ws = load_ok_or_exit(paths, relative=True, no_cache=no_cache)
    name_or_exit(ws, name, ("metric", "experiment", "monitor", "guardrail", "kpi"))
    engine_ok_or_exit(ws, [name], backends=[backend])
    try:
        request = pipeline.Request(Grain.parse(grain), tuple(dimension or ()),
                                   parse_time(since, "--since", ws.index.calendar),
                                   parse_time(until, "--until", ws.index.calendar))
        query = (pipeline.compile(ws.index, name, backend, request) if where is None
                 else _compile_where(ws.index, name, backend, request, where))
    except PlanError as exc:
        usage_error(str(exc))
    except pipeline.CompileError as exc:
        if exc.request:  # the grain, dimensions or range asked for, not the spec
            usage_error(exc.reason)
        error_line(str(exc))
        raise typer.Exit(1) from None
    sys.stdout.write(query.sql)
