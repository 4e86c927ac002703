"""What `run --incremental` reads on day 14 of a 14-day experiment, against a full run.

    .venv/bin/python benchmarks/incremental_refresh.py                 # demo scale 1
    .venv/bin/python benchmarks/incremental_refresh.py --scale 5 --row-group-size 16384

The experiment is the demo's `summarizer_v2` (2026-10-01 .. 2026-10-14) without what does not
merge over refreshes (the `latency_p95` percentile guardrail and CUPED): its other metrics,
segments and assignment, as `summarizer_v2_incremental` in a copy of the example specs.

The demo generator does not store its event tables in time order (rows come out by chunks of
users), so DuckDB's zone maps could skip almost nothing for any time range. Event tables are
stored in time order in practice (appended as they arrive, or partitioned by day), so the
measurement runs on a time-ordered copy — each table sorted by its time column, written with
`--row-group-size` rows per row group (DuckDB's default, 122,880, is ~9 days of messages at
scale 1, coarser than the one day a refresh reads). Then:

1. the copy holds every row before 2026-10-14 (the experiment's first 13 days) and a first
   `run --incremental` builds the state (as the daily refreshes until day 13 would have);
2. day 14's rows are appended (in time order) and the day-14 refresh runs, lookback 1 hour;
3. a full run on the same warehouse.

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

from sql_efficiency import warehouse_for  # noqa: E402

from metricspec.run.connections import connect  # noqa: E402
from metricspec.run.execute import run_experiment  # noqa: E402
from metricspec.run.incremental import run_incremental  # noqa: E402
from metricspec.workspace import Workspace  # noqa: E402

TIME = {"users": "signup_ts", "assignments": "assigned_ts", "conversations": "started_ts",
        "messages": "ts", "feedback": "ts"}
DAY14 = dt.datetime(2026, 10, 14)
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


def time_ordered_copy(demo: Path, target: Path, row_group: int) -> None:
    con = duckdb.connect(config={"threads": 1})  # one writer: row groups of the size asked
    con.execute(f"ATTACH '{demo}' AS d (READ_ONLY)")
    con.execute(f"ATTACH '{target}' AS c (ROW_GROUP_SIZE {row_group})")
    con.execute("CREATE SCHEMA c.support")
    for table, column in TIME.items():
        con.execute(f"CREATE TABLE c.support.{table} AS SELECT * FROM d.support.{table} "
                    f"WHERE {column} < TIMESTAMP '{DAY14}' ORDER BY {column}")
    con.close()


def append_day14(demo: Path, target: Path, row_group: int) -> None:
    con = duckdb.connect(config={"threads": 1})  # one writer: row groups of the size asked
    con.execute(f"ATTACH '{demo}' AS d (READ_ONLY)")
    con.execute(f"ATTACH '{target}' AS c (ROW_GROUP_SIZE {row_group})")
    end = DAY14 + dt.timedelta(days=1)
    for table, column in TIME.items():
        con.execute(f"INSERT INTO c.support.{table} SELECT * FROM d.support.{table} "
                    f"WHERE {column} >= TIMESTAMP '{DAY14}' AND {column} < TIMESTAMP '{end}' "
                    f"ORDER BY {column}")
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
    parser.add_argument("--row-group-size", type=int, default=8192)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    demo = warehouse_for(args.scale)
    work = Path(tempfile.mkdtemp(prefix="metricspec-incremental-"))
    try:
        specs = work / "specs"
        shutil.copytree(ROOT / "specs", specs)
        (specs / "experiments" / "summarizer_v2_incremental.mspec").write_text(EXPERIMENT)
        ws = Workspace.load(specs)
        assert ws.ok, ws.render()
        index = ws.index
        lookback = dt.timedelta(hours=1)
        inc_times, full_times = [], []
        for run in range(args.runs):
            copy = work / f"copy{run}.duckdb"
            time_ordered_copy(demo, copy, args.row_group_size)
            with connect(f"duckdb:///{copy}?max_vacuum_tasks=0") as conn:
                _, built = run_incremental(index, "summarizer_v2_incremental", conn, lookback)
            append_day14(demo, copy, args.row_group_size)
            with connect(f"duckdb:///{copy}?max_vacuum_tasks=0") as conn:
                started = time.perf_counter()
                inc, refresh = run_incremental(index, "summarizer_v2_incremental", conn,
                                               lookback)
                inc_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                full = run_experiment(index, "summarizer_v2_incremental", conn)
                full_times.append(time.perf_counter() - started)
            copy.unlink()
        assert built.rebuilt is not None and refresh.rebuilt is None, (built, refresh)
        f, i = by_table(full.cost), by_table(inc.cost)
        print(f"demo scale {args.scale:g}, time-ordered copy, {args.row_group_size} rows per "
              f"row group; day-14 refresh from {refresh.cutoff} (lookback 1 h)")
        print(f"{'table':58} {'full run':>10} {'incremental':>12}")
        for table in sorted(set(f) | set(i)):
            print(f"{table:58} {f.get(table, 0):>10,} {i.get(table, 0):>12,}")
        sources = sum(v for t, v in i.items() if not t.startswith("metricspec_state"))
        state = sum(v for t, v in i.items() if t.startswith("metricspec_state"))
        total_full = sum(f.values())
        print(f"source tables: {sources:,} of {total_full:,} rows = {sources / total_full:.3f}"
              f" of the full run; with the state tables: {sources + state:,} = "
              f"{(sources + state) / total_full:.3f}")
        print(f"time (median of {args.runs}): incremental {statistics.median(inc_times):.2f} s,"
              f" full {statistics.median(full_times):.2f} s")
        print(f"statistics equal (floats to 1e-9): {same(full.rows, inc.rows)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
