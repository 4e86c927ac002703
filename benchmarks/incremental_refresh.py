"""What `run --incremental` reads on day 14 of a 14-day experiment, against a full run,
on the demo warehouse.

    .venv/bin/python benchmarks/incremental_refresh.py                  # demo scale 1
    .venv/bin/python benchmarks/incremental_refresh.py --scale 5 --row-group-size 4096

The experiment is the demo's `summarizer_v2` (2026-10-01 .. 2026-10-14) without what does not
merge over refreshes (the `latency_p95` percentile guardrail and CUPED): its other metrics,
segments and assignment, as `summarizer_v2_incremental` in a copy of the example specs.

The demo generator writes each event table in time order (as logged). The demo warehouse is
generated fresh into a temporary folder (as `metricspec demo` stores it, in row groups of
2,048 rows, or `--row-group-size` rows per row group; the shared benchmark warehouses are not
touched). Then:

1. a copy holding the rows before 2026-10-13 builds the state (`run --incremental`, as the
   daily refreshes until day 12 would have), day 13's rows are appended and the day-13
   refresh runs (lookback 1 hour, `--lookback-hours`);
2. that state is copied into a byte copy of the demo warehouse, where the day-14 refresh
   (lookback 1 hour: from 23:00 on day 13) and a full run are measured — both read the demo
   warehouse's own storage.

Rows read are the DuckDB profiler's rows per table scan (`run/cost.py`), for every statement
of the refresh and the statistics query; the source tables and the state tables are shown
apart. The statistics of both runs are compared (equal up to float summation order).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]


from metricspec.demo.chunks import TIME_ORDER  # noqa: E402
from metricspec.demo.generate import ROW_GROUP_SIZE  # noqa: E402
from metricspec.run.connections import connect  # noqa: E402
from metricspec.run.execute import run_experiment  # noqa: E402
from metricspec.run.incremental import run_incremental  # noqa: E402
from metricspec.workspace import Workspace  # noqa: E402

DAY13, DAY14 = dt.datetime(2026, 10, 13), dt.datetime(2026, 10, 14)
EXPERIMENT = """experiment summarizer_v2_incremental "summarizer_v2 without its percentile" {
  unit user_id
  assignment assignments variant variant where experiment_id = 'summarizer_v2'
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary csat
  secondary task_completion, cost_per_query, csat_score
  guardrail hallucination_rate max_increase 0.5pp
  correction holm
  segments platform
}
"""


def demo_warehouse(path: Path, scale: float, row_group: int | None) -> None:
    """The demo warehouse as `metricspec demo` writes it (row groups of
    `metricspec.demo.generate.ROW_GROUP_SIZE`), or with `row_group` rows per row group."""
    from metricspec.demo import generate

    if row_group is None:
        generate(path, scale=scale)
        return
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS demo (ROW_GROUP_SIZE {row_group})")
    con.execute("USE demo")
    generate(con, scale=scale)
    con.close()


def copy_before(demo: Path, target: Path, before: dt.datetime) -> None:
    """Every demo table, the event tables only up to `before` (where the state is built)."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{demo}' AS d (READ_ONLY)")
    con.execute(f"ATTACH '{target}' AS c")
    con.execute("CREATE SCHEMA c.support")
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'd' "
        "AND schema_name = 'support'").fetchall()]
    for table in tables:
        where = f" WHERE {TIME_ORDER[table]} < TIMESTAMP '{before}'" if table in TIME_ORDER else ""
        con.execute(f"CREATE TABLE c.support.{table} AS SELECT * FROM d.support.{table}{where}")
    con.close()


def append_day(demo: Path, target: Path, day: dt.datetime) -> None:
    con = duckdb.connect()
    con.execute(f"ATTACH '{demo}' AS d (READ_ONLY)")
    con.execute(f"ATTACH '{target}' AS c")
    end = day + dt.timedelta(days=1)
    for table, column in TIME_ORDER.items():
        con.execute(f"INSERT INTO c.support.{table} SELECT * FROM d.support.{table} "
                    f"WHERE {column} >= TIMESTAMP '{day}' AND {column} < TIMESTAMP '{end}'")
    con.close()


def transplant_state(state: Path, target: Path) -> None:
    con = duckdb.connect(config={"max_vacuum_tasks": 0})
    con.execute(f"ATTACH '{state}' AS s (READ_ONLY)")
    con.execute(f"ATTACH '{target}' AS t")
    con.execute("CREATE SCHEMA t.metricspec_state")
    for (table,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 's' "
            "AND schema_name = 'metricspec_state'").fetchall():
        con.execute(f'CREATE TABLE t.metricspec_state."{table}" AS '
                    f'SELECT * FROM s.metricspec_state."{table}"')
    con.close()


def by_table(cost: object) -> dict[str, int]:
    assert cost is not None
    return {s.table.split(".", 1)[1]: int(s.rows or 0) for s in cost.scans}  # type: ignore[attr-defined]


def same(full: list[dict], inc: list[dict]) -> bool:
    def key(r: dict) -> tuple:
        return (r["segment"], str(r["segment_value"]), r["variant"], r["metric"])
    if len(full) != len(inc):
        return False
    for a, b in zip(sorted(full, key=key), sorted(inc, key=key), strict=True):
        for column, value in a.items():
            other = b[column]
            if isinstance(value, float) or isinstance(other, float):
                if not math.isclose(float(value), float(other), rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif value != other:
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--row-group-size", type=int, default=None,
                        help="rows per row group of the generated warehouse (default: as "
                             "`metricspec demo` writes it; DuckDB's own default is 122880)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lookback-hours", type=float, default=1.0,
                        help="the refreshes' lookback (`run --incremental` defaults to 24)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="metricspec-incremental-"))
    try:
        specs = work / "specs"
        shutil.copytree(ROOT / "specs", specs)
        (specs / "experiments" / "summarizer_v2_incremental.mspec").write_text(EXPERIMENT)
        ws = Workspace.load(specs)
        assert ws.ok, ws.render()
        index, name = ws.index, "summarizer_v2_incremental"
        lookback = dt.timedelta(hours=args.lookback_hours)
        demo, state = work / "demo.duckdb", work / "state.duckdb"
        started = time.perf_counter()
        demo_warehouse(demo, args.scale, args.row_group_size)
        print(f"generated the demo warehouse at scale {args.scale:g} in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        copy_before(demo, state, DAY13)
        with connect(f"duckdb:///{state}") as conn:
            _, built = run_incremental(index, name, conn, lookback)
        append_day(demo, state, DAY13)
        with connect(f"duckdb:///{state}") as conn:
            _, day13 = run_incremental(index, name, conn, lookback)
        assert built.rebuilt is not None and day13.rebuilt is None, (built, day13)
        # a rewrite of the state must not merge the demo's row groups at checkpoint
        url = "?max_vacuum_tasks=0"
        times: dict[str, list[tuple[float, float]]] = {"incremental": [], "full": []}
        for run in range(args.runs):
            copy = work / f"measured{run}.duckdb"
            shutil.copyfile(demo, copy)
            transplant_state(state, copy)
            with connect(f"duckdb:///{copy}{url}") as conn:
                clock = time.perf_counter(), time.process_time()
                inc, refresh = run_incremental(index, name, conn, lookback)
                times["incremental"].append((time.perf_counter() - clock[0],
                                             time.process_time() - clock[1]))
                clock = time.perf_counter(), time.process_time()
                full = run_experiment(index, name, conn)
                times["full"].append((time.perf_counter() - clock[0],
                                      time.process_time() - clock[1]))
            copy.unlink()
        assert refresh.rebuilt is None, refresh
        f, i = by_table(full.cost), by_table(inc.cost)
        groups = f"{args.row_group_size or ROW_GROUP_SIZE:,}"
        print(f"demo scale {args.scale:g} (time-ordered, {groups} rows per row group); "
              f"day-14 refresh from {refresh.cutoff} (lookback {args.lookback_hours:g} h), "
              f"after the day-13 one from {day13.cutoff}")
        print(f"{'table':58} {'full run':>10} {'incremental':>12}")
        for table in sorted(set(f) | set(i)):
            print(f"{table:58} {f.get(table, 0):>10,} {i.get(table, 0):>12,}")
        sources = sum(v for t, v in i.items() if not t.startswith("metricspec_state"))
        state_rows = sum(v for t, v in i.items() if t.startswith("metricspec_state"))
        total_full = sum(f.values())
        print(f"source tables: {sources:,} of {total_full:,} rows = {sources / total_full:.3f}"
              f" of the full run; with the state tables: {sources + state_rows:,} = "
              f"{(sources + state_rows) / total_full:.3f}")
        for what, pairs in times.items():
            print(f"{what}: median of {args.runs}: "
                  f"{statistics.median(w for w, _ in pairs):.2f} s wall, "
                  f"{statistics.median(c for _, c in pairs):.2f} s CPU")
        print(f"statistics equal (floats to 1e-9): {same(full.rows, inc.rows)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
