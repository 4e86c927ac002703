"""`metricspec run --incremental`: refresh an experiment's per-unit state in a scratch schema
of the warehouse, then compute the sufficient statistics from the state.

The state tables (`emit.experiment_incremental`) are named by the experiment and the meaning
hash of its definition (`hashing`), so a changed definition finds no state and builds from
scratch; so does a state with any table missing (a refresh that died half-way leaves its
mark missing). Otherwise the refresh reads the source rows from a cutoff — the end of the
latest hour of events the state holds, less the lookback for late data (`cutoff_for`) — and
folds the state before it into per-unit totals. Rows that arrive later than the lookback
(older than the cutoff) are not seen until the state is rebuilt; a lookback that reaches
before the hours already folded rebuilds.

These are metricspec's only writes: each statement is one statement, and every table written
or dropped is in the scratch schema, addressed by quoted identifiers (docs/engines.md).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from metricspec import pipeline
from metricspec.emit import experiment_incremental as inc
from metricspec.emit.render import render_sql
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.hashing import Hasher
from metricspec.plan.experiment import ExperimentPlan
from metricspec.plan.incremental import incremental_problems
from metricspec.plan.lower import PlanError
from metricspec.run.connections import Connection
from metricspec.run.cost import ScanCost, combine
from metricspec.run.execute import (
    ExperimentRun,
    Progress,
    RunError,
    Timings,
    backend_of,
    execute,
    execute_costed,
    no_progress,
    preflight,
    preflight_columns,
    rows_of,
)
from metricspec.semantic import Index

SCHEMA = "metricspec_state"


@dataclass(frozen=True)
class Refresh:
    """What one refresh did: rebuilt (and why) or refreshed from `cutoff`; what it read."""

    rebuilt: str | None
    cutoff: dt.datetime | None
    cost: ScanCost | None


def _floor_hour(value: dt.datetime) -> dt.datetime:
    return value.replace(minute=0, second=0, microsecond=0)


def state_names(index: Index, name: str, schema: str = SCHEMA) -> inc.StateNames:
    meaning = Hasher(index).object("experiment", index.objects["experiment"][name]).meaning
    return inc.StateNames.of(schema, name, meaning)


def run_incremental(index: Index, name: str, conn: Connection, lookback: dt.timedelta,
                    progress: Progress = no_progress, schema: str = SCHEMA,
                    ) -> tuple[ExperimentRun, Refresh]:
    """Refresh the state of experiment `name` and compute its statistics from it."""
    try:  # planned through the pipeline, as `run_experiment` compiles
        plan = pipeline.plan_kind("experiment", index, name)
    except PlanError as exc:
        raise RunError(f"experiment `{name}`: {exc}") from exc
    if not isinstance(plan, ExperimentPlan):
        raise TypeError(f"experiment `{name}` has no ExperimentPlan")
    problems = incremental_problems(plan)
    if problems:  # the command refuses first; this guards the library call
        raise RunError(f"experiment `{name}` cannot be refreshed incrementally: {problems[0]}")
    timings = Timings()
    backend = backend_of(conn)
    sql = SqlBuilder(backend)
    names = state_names(index, name, schema)
    what = f"experiment `{name}` (incremental)"
    progress("checking tables")
    preflight(conn, backend, what, preflight_columns(plan))
    progress("refreshing the state")
    started = time.perf_counter()
    refresh = _refresh(plan, names, conn, sql, lookback, what)
    timings.add("refresh", time.perf_counter() - started)
    progress("computing the statistics from the state")
    started = time.perf_counter()
    text = render_sql(inc.statistics_sql(plan, names, sql), backend, kind="experiment",
                      name=name, files=plan.files, notes=("incremental: from the state",))
    result, statistics_cost = execute_costed(conn, text, what)
    # what the refresh read is known only where the engine measures it (DuckDB); without
    # it, the statistics query's figure alone would understate the run: not reported
    cost = None if refresh.cost is None else combine([refresh.cost, statistics_cost])
    timings.add("query", time.perf_counter() - started)
    return ExperimentRun(plan, backend, text, rows_of(result), timings, cost), refresh


class _Costs:
    """Runs the refresh's statements one by one, keeping what each read."""

    def __init__(self, conn: Connection, what: str) -> None:
        self.conn, self.what, self.costs = conn, what, list[ScanCost | None]()

    def run(self, text: str) -> list[dict[str, object]]:
        rows = rows_of(execute(self.conn, text, self.what))
        # what the engine measured while the statement ran (DuckDB); never an estimate,
        # which would ask the planner about a write (not reported elsewhere)
        self.costs.append(self.conn.last_cost)
        return rows


def cutoff_for(plan: ExperimentPlan, latest: dt.datetime | None,
               lookback: dt.timedelta) -> dt.datetime:
    """Where a refresh starts reading: the end of the latest hour of events the state holds,
    less the lookback, rounded down to the hour — but never after the start of that hour,
    which may have been incomplete when it was read. A refresh on day 14 after one on day 13
    (latest hour 23:00) with a lookback of 1 hour reads from 23:00 on day 13."""
    if latest is None:
        return _floor_hour(plan.start)
    latest = _floor_hour(latest)
    return max(_floor_hour(plan.start),
               min(latest, _floor_hour(latest + dt.timedelta(hours=1) - lookback)))


def _refresh(plan: ExperimentPlan, names: inc.StateNames, conn: Connection, sql: SqlBuilder,
             lookback: dt.timedelta, what: str) -> Refresh:
    run = _Costs(conn, what)
    run.run(inc.create_schema(names, sql))
    present = {str(r["table_name"]) for r in run.run(inc.existing_tables(names, sql))}
    missing = [t for t in names.all() if t not in present]
    if missing:
        return _rebuild(plan, names, run, sql, f"no state table {missing[0]}")
    [row] = run.run(inc.watermark(names, sql))
    mark, latest = (v.replace(tzinfo=None) if isinstance(v, dt.datetime) else None
                    for v in (row["mark"], row["latest"]))
    cutoff = cutoff_for(plan, latest, lookback)
    if mark is None or cutoff < mark:  # the folded hours would be read again
        return _rebuild(plan, names, run, sql, f"the lookback reaches {cutoff:%Y-%m-%d %H:%M}, "
                        f"before the hours already folded ({mark or 'unknown'})")
    # dropped first, written last: a refresh that dies half-way leaves no mark, and the
    # next one rebuilds (else it could fold the same recent rows into `units` twice)
    run.run(inc.drop_table(names, names.name("mark"), sql))
    run.run(inc.drop_table(names, names.name("units_next"), sql))
    run.run(inc.units_state(plan, names, cutoff, sql))  # rewritten whole, renamed into place
    run.run(inc.drop_table(names, names.name("units"), sql))
    run.run(inc.rename_table(names, names.name("units_next"), names.name("units"), sql))
    run.run(inc.drop_table(names, names.name("recent"), sql))
    run.run(inc.recent_state(plan, names, cutoff, sql))
    run.run(inc.write_mark(names, cutoff, sql))
    return Refresh(None, cutoff, combine(run.costs))


def _rebuild(plan: ExperimentPlan, names: inc.StateNames, run: _Costs, sql: SqlBuilder,
             why: str) -> Refresh:
    for table in [*names.all(), names.name("units_next")]:
        run.run(inc.drop_table(names, table, sql))
    start = _floor_hour(plan.start)
    run.run(inc.units_state(plan, names, None, sql))
    run.run(inc.recent_state(plan, names, start, sql, exposed="units_next"))
    run.run(inc.with_components(plan, names, sql))
    run.run(inc.drop_table(names, names.name("units_next"), sql))
    run.run(inc.write_mark(names, start, sql))  # written last: its absence means rebuild
    return Refresh(why, None, combine(run.costs))


def parse_lookback(text: str) -> dt.timedelta:
    """`2d`, `36h`, `90m` or `0`: how far before the end of the latest refreshed hour rows
    may still arrive late (`cutoff_for`). Raises ValueError saying how to write one."""
    import re

    found = re.fullmatch(r"\s*(\d+)\s*([dhm]?)\s*", text)
    if found is None or (found.group(2) == "" and found.group(1) != "0"):
        raise ValueError(f"--lookback {text!r}: write a duration such as `2d`, `36h` or `0`")
    amount, unit = int(found.group(1)), found.group(2) or "h"
    return dt.timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})


def describe(refresh: Refresh) -> str:
    """One line for the terminal: what the refresh did."""
    if refresh.rebuilt is not None:
        return f"incremental state rebuilt from the window's start ({refresh.rebuilt})"
    assert refresh.cutoff is not None
    return f"incremental state refreshed from {refresh.cutoff:%Y-%m-%d %H:%M}"
