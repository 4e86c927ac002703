"""Parse + check speed of a synthetic spec repo (issue 16, item 1): no compile.

    .venv/bin/python benchmarks/parse_check_speed.py                 # 1,000 and 10,000; 5 runs
    .venv/bin/python benchmarks/parse_check_speed.py --sizes 10000 --runs 3
    .venv/bin/python benchmarks/parse_check_speed.py --profile 10000 # cProfile, top entries

Each size's repo is written once by `synthetic_specs.write_repo` (one file in five is YAML).
Every run is a fresh Python process that times, after its imports, `metricspec.parse.load`
(no compile cache: `load` is called without one) and `metricspec.check.check` with the
DuckDB, BigQuery and Snowflake backends, in CPU seconds (this process and its forked
workers) and wall seconds — once in one process (`workers=1`, a library caller's default)
and once with as many workers as cores, as the command line runs them (`--workers N` to
choose). Figures are medians over the runs; the growth exponent is the log-log slope of the
one-process parse + check CPU time between consecutive sizes. The target is judged on the
command line's wall time. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import math
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from children import load_and_check, median_of_children, print_profile  # noqa: E402
from synthetic_specs import write_repo  # noqa: E402

DIALECTS = ("duckdb", "bigquery", "snowflake")
TARGET_SECONDS_AT_10000 = 3.0


def child(repo: str) -> dict[str, float]:
    """Parse and check `repo` once in this process ($BENCH_WORKERS processes); return CPU
    and wall seconds."""
    from metricspec.backends import resolve_dialects

    _, out = load_and_check(repo, resolve_dialects(list(DIALECTS)),
                            workers=int(os.environ["BENCH_WORKERS"]))
    return out | {"cpu": out["cpu_parse"] + out["cpu_check"],
                  "wall": out["parse"] + out["check"]}


def measure(repo: Path, runs: int, workers: int) -> dict[str, float]:
    """Median of each figure over `runs` fresh processes, uncached."""
    return median_of_children(__file__, "--child", repo, runs, dict(
        os.environ, METRICSPEC_NO_CACHE="1", BENCH_WORKERS=str(workers)))


def profile(n_metrics: int, top: int) -> None:
    """Print the top entries of a cProfile of one parse + check."""
    with tempfile.TemporaryDirectory() as tmp:
        write_repo(tmp, n_metrics)
        from metricspec.backends import resolve_dialects

        backends = resolve_dialects(list(DIALECTS))
        profiler = cProfile.Profile()
        profiler.enable()
        load_and_check(tmp, backends)
        profiler.disable()
    print_profile(profiler, f"{n_metrics} metrics", ("tottime", "cumulative"), top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per size")
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile N metrics instead")
    parser.add_argument("--top", type=int, default=35, help="profile entries to print")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes of the command line's row (default: the cores)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    if args.profile:
        profile(args.profile, args.top)
        return
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"median of {args.runs} fresh processes per size; seconds")
    print(f"{'metrics':>8} {'workers':>7} {'cpu parse':>9} {'cpu check':>9} {'cpu total':>9} "
          f"{'wall parse':>10} {'wall check':>10} {'wall total':>10}")
    rows, cli = [], {}
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            write_repo(tmp, n)
            for workers in sorted({1, args.workers}):
                m = measure(Path(tmp), args.runs, workers)
                if workers == 1:
                    rows.append((n, m))
                if workers == args.workers:
                    cli[n] = m
                print(f"{n:>8,} {workers:>7} {m['cpu_parse']:>9.2f} {m['cpu_check']:>9.2f} "
                      f"{m['cpu']:>9.2f} {m['parse']:>10.2f} {m['check']:>10.2f} "
                      f"{m['wall']:>10.2f}", flush=True)
    for (n0, m0), (n1, m1) in itertools.pairwise(rows):
        slope = {k: math.log(m1[k] / m0[k]) / math.log(n1 / n0)
                 for k in ("cpu_parse", "cpu_check", "cpu", "wall")}
        print(f"growth exponent {n0:,} -> {n1:,}: "
              + ", ".join(f"{k} {v:.2f}" for k, v in slope.items()))
    if 10_000 in cli:
        m, one = cli[10_000], dict(rows)[10_000]
        verdict = "met" if m["wall"] < TARGET_SECONDS_AT_10000 else "MISSED"
        print(f"target: parse + check of 10,000 metrics < {TARGET_SECONDS_AT_10000:.0f} s: "
              f"{verdict} ({m['wall']:.2f} s wall with {args.workers} workers as the command "
              f"line runs it; one process {one['wall']:.2f} s wall, {one['cpu']:.2f} s CPU)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
