"""Peak memory of `metricspec run summarizer_v2` at ~10^6 and ~10^7 messages, and stats speed.

    .venv/bin/python benchmarks/run_memory.py           # scales 0.9 and 15; 3 runs each
    .venv/bin/python benchmarks/run_memory.py --quick   # scales 0.25 and 0.9
    .venv/bin/python benchmarks/run_memory.py --scales 150 --runs 1 --memory-limit 2GB
                                                        # ~10^8 messages, DuckDB spilling

For each warehouse (the demo generator's, built once into `$TMPDIR/metricspec-bench/`):

* the command line, `python -m metricspec run summarizer_v2 --format json`, in a child
  process: wall time and peak RSS (`getrusage(RUSAGE_CHILDREN).ru_maxrss` of a wrapper that
  runs only that command). The embedded DuckDB runs inside this process, so its working
  memory for the query is part of the RSS;
* the Python side alone, in a fresh process: `run_experiment` + `analyze_rows` under
  `tracemalloc` (peak of Python allocations after imports) and the number of rows the
  warehouse returns to Python, which is what should not grow with the data.

Then it runs `benchmarks/stats_speed.py` (analysis of 1,000 and 10,000 metrics x 3 variants)
and prints its output. Figures are medians over the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from sql_efficiency import warehouse_for  # noqa: E402

EXPERIMENT = "summarizer_v2"

WRAPPER = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - t
print(json.dumps({"rc": proc.returncode, "wall": wall, "stderr": proc.stderr[-2000:],
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""

PROBE = """
import json, resource, sys, time, tracemalloc
from metricspec.workspace import Workspace
from metricspec.run import connect
from metricspec.run.execute import run_experiment
from metricspec.analyze import analyze_rows
ws = Workspace.load(sys.argv[2])
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
t = time.perf_counter()
with connect(sys.argv[1]) as conn:
    run = run_experiment(ws.index, sys.argv[3], conn)
result = analyze_rows(run.plan, run.rows)
wall = time.perf_counter() - t
current, peak = tracemalloc.get_traced_memory()
print(json.dumps({"rows": len(run.rows), "python_peak_kib": peak / 1024, "wall": wall,
                  "rss_before_kib": rss_before,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def child_json(command: list[str], env: dict) -> dict:
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scales 0.25 and 0.9")
    parser.add_argument("--scales", type=float, nargs="+", help="demo scales to measure")
    parser.add_argument("--runs", type=int, default=3, help="runs per scale")
    parser.add_argument("--no-stats-speed", action="store_true", help="skip stats_speed.py")
    parser.add_argument("--memory-limit", help="DuckDB memory_limit in the warehouse URL (e.g. "
                        "2GB); what does not fit spills to a temporary folder")
    args = parser.parse_args()
    scales = args.scales or ((0.25, 0.9) if args.quick else (0.9, 15.0))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}

    limit = f", DuckDB memory_limit={args.memory_limit}" if args.memory_limit else ""
    print(f"`metricspec run {EXPERIMENT}` (medians of {args.runs} runs{limit})")
    print(f"{'scale':>6} {'messages':>11} {'CLI wall s':>10} {'CLI peak RSS MB':>15} "
          f"{'rows to Python':>14} {'Python peak MB':>14} {'probe RSS MB':>12}")
    for scale in scales:
        path = warehouse_for(scale)
        import duckdb

        with duckdb.connect(str(path), read_only=True) as con:
            messages = con.execute("SELECT count(*) FROM support.messages").fetchall()[0][0]
        url = f"duckdb:///{path}"
        if args.memory_limit:  # URL query parameters are DuckDB settings
            spill = path.with_suffix(".spill")
            url += f"?memory_limit={args.memory_limit}&temp_directory={spill}"
        cli = [sys.executable, "-m", "metricspec", "run", EXPERIMENT, "-s", str(ROOT / "specs"),
               "-w", url, "--format", "json"]
        cli_runs = []
        for _ in range(args.runs):
            result = child_json([sys.executable, "-c", WRAPPER, *cli], env)
            if result["rc"] != 0:
                raise SystemExit(f"metricspec run failed:\n{result['stderr']}")
            cli_runs.append(result)
        probes = [child_json([sys.executable, "-c", PROBE, url, str(ROOT / "specs"), EXPERIMENT],
                             env) for _ in range(args.runs)]
        med = statistics.median
        print(f"{scale:>6g} {messages:>11,} {med(r['wall'] for r in cli_runs):>10.2f} "
              f"{med(r['maxrss_kib'] for r in cli_runs) / 1024:>15.0f} "
              f"{int(med(p['rows'] for p in probes)):>14,} "
              f"{med(p['python_peak_kib'] for p in probes) / 1024:>14.1f} "
              f"{med(p['maxrss_kib'] for p in probes) / 1024:>12.0f}", flush=True)

    if not args.no_stats_speed:
        print("\nbenchmarks/stats_speed.py (analysis on sufficient statistics):", flush=True)
        proc = subprocess.run([sys.executable, str(HERE / "stats_speed.py")], env=env,
                              capture_output=True, text=True, check=False)
        print(proc.stdout.rstrip() or proc.stderr[-2000:])


if __name__ == "__main__":
    main()
