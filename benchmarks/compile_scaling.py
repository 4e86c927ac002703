"""Compile scaling: parse + check + compile of synthetic spec repos of 100 to 10,000 metrics.

    .venv/bin/python benchmarks/compile_scaling.py              # 100, 1,000, 10,000; 3 runs
    .venv/bin/python benchmarks/compile_scaling.py --quick      # 100 and 1,000; 3 runs
    .venv/bin/python benchmarks/compile_scaling.py --profile 1000   # cProfile, top entries
    .venv/bin/python benchmarks/compile_scaling.py --one-query 10000  # one 10-metric query

Each repo is written by `synthetic_specs.write_repo` into a temporary folder (~N/25 sources,
one experiment per 50 metrics, one KPI tree and one monitor per 100 metrics). Every run is
a fresh Python process (what CI pays), which times, after its imports:

* parse   — `metricspec.parse.load` (DSL and YAML front ends → one IR project), in one
  process (the command line's forked parsers are timed by `parse_check_speed.py` and by
  the "in one call" rows, which run everything as `metricspec compile` does);
* check   — `metricspec.check.check` with the DuckDB, BigQuery and Snowflake backends, in
  one process too;
* compile — `compile_all` for one backend at a time (planning + SQL building + rendering),
  so each dialect has its own column.

Peak memory is the process's `ru_maxrss` at the end (the interpreter and imports included;
`rss after imports` is shown next to it). Reported figures are medians over the runs. The
growth exponent is the log-log slope of the total time between consecutive sizes (1.0 =
linear). Wall time on a shared machine includes waiting for a core, so CPU time is shown too:
this process's own, and with the forked compile workers' (`RUSAGE_CHILDREN`).
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from children import load_and_check, median_of_children, print_profile  # noqa: E402
from synthetic_specs import write_repo  # noqa: E402

DIALECTS = ("duckdb", "bigquery", "snowflake")
TARGET_SECONDS_AT_1000 = 2.0


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the forked compile workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def together_child(repo: str) -> dict[str, float]:
    """Parse, check and compile as `metricspec compile --dialect duckdb,bigquery,snowflake`
    does: parse and check with as many workers as cores, one compile_all call for every
    dialect, its workers sharing the whole batch."""
    from metricspec.backends import resolve_dialects
    from metricspec.pipeline import compile_all
    from metricspec.semantic import Index

    backends = resolve_dialects(list(DIALECTS))
    t0 = time.perf_counter()
    loaded, _ = load_and_check(repo, backends, workers=os.cpu_count() or 1)
    t1 = time.perf_counter()
    compiled, failed = compile_all(Index(loaded.project), backends,
                                   workers=os.cpu_count() or 1)
    if failed:
        raise SystemExit(f"{len(failed)} objects failed to compile, e.g. {failed[0]}")
    done = time.perf_counter()
    return {"together": done - t1, "total_together": done - t0, "queries": len(compiled)}


def child(repo: str) -> dict[str, float]:
    """Run the pipeline once in this process; return stage seconds and memory."""
    started = time.perf_counter()
    from metricspec.backends import resolve_dialects
    from metricspec.pipeline import compile_all
    from metricspec.semantic import Index

    out: dict[str, float] = {"import": time.perf_counter() - started, "rss_imports": _rss_kib()}
    backends = resolve_dialects(list(DIALECTS))
    cpu0, t0 = time.process_time(), time.perf_counter()
    loaded, stages = load_and_check(repo, backends)
    out |= stages
    index = Index(loaded.project)
    queries = 0
    for backend in backends:
        c, t, w = time.process_time(), time.perf_counter(), _children_cpu()
        compiled, failed = compile_all(index, [backend], workers=os.cpu_count() or 1)
        out[backend.name] = time.perf_counter() - t
        out[f"cpu_{backend.name}"] = time.process_time() - c
        out[f"cpu_all_{backend.name}"] = out[f"cpu_{backend.name}"] + _children_cpu() - w
        if failed:
            raise SystemExit(f"{len(failed)} objects failed to compile, e.g. {failed[0]}")
        queries += len(compiled)
    out["total"] = time.perf_counter() - t0
    out["cpu"] = time.process_time() - cpu0

    out["cpu_all"] = out["cpu"] + sum(out[f"cpu_all_{b.name}"] - out[f"cpu_{b.name}"]
                                      for b in backends)
    out["queries"] = queries
    out["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return out


ONE_QUERY_METRICS = 10
TARGET_ONE_QUERY_MS = 50.0


def one_query_child(repo: str) -> dict[str, float]:
    """After loading and checking the project: compile one query of 10 metrics by day (what
    `metricspec query` compiles), for each dialect; its first compile and the median of 5."""
    from metricspec.backends import resolve_dialects
    from metricspec.pipeline import Request, compile_metrics
    from metricspec.plan.metric_query import Grain
    from metricspec.semantic import Index

    backends = resolve_dialects(list(DIALECTS))
    loaded, _ = load_and_check(repo, backends)
    index = Index(loaded.project)
    names = sorted(index.metrics)
    step = max(1, len(names) // ONE_QUERY_METRICS)  # metrics of several sources
    chosen = names[::step][:ONE_QUERY_METRICS]
    request = Request(Grain.parse("day"))
    out: dict[str, float] = {}
    for backend in backends:
        times = []
        for _ in range(6):
            c, t = time.process_time(), time.perf_counter()
            compile_metrics(index, chosen, backend, request)
            times.append((time.perf_counter() - t, time.process_time() - c))
        out[f"first_{backend.name}"] = 1000 * times[0][0]
        out[backend.name] = 1000 * statistics.median(w for w, _ in times[1:])
        out[f"cpu_{backend.name}"] = 1000 * statistics.median(c for _, c in times[1:])
    return out


def one_query(n_metrics: int, runs: int) -> None:
    """Print the one-query figures, medians over `runs` fresh processes."""
    with tempfile.TemporaryDirectory() as tmp:
        write_repo(tmp, n_metrics)
        m = measure(Path(tmp), runs, "--one-query-child")
    print(f"one query of {ONE_QUERY_METRICS} metrics by day in a {n_metrics:,}-metric project, "
          f"after loading; ms, median of {runs} fresh processes (5 compiles each after the first)")
    for d in DIALECTS:
        print(f"{d:>10}: {m[d]:7.1f} ms wall, {m['cpu_' + d]:7.1f} ms CPU "
              f"(first compile {m['first_' + d]:.1f} ms)")
    worst = max(m[d] for d in DIALECTS)
    verdict = "met" if worst < TARGET_ONE_QUERY_MS else "MISSED"
    print(f"target: < {TARGET_ONE_QUERY_MS:.0f} ms: {verdict} (slowest dialect {worst:.1f} ms)")


def measure(repo: Path, runs: int, mode: str = "--child") -> dict[str, float]:
    """Median of each figure over `runs` fresh processes."""
    return median_of_children(__file__, mode, repo, runs)


def profile(n_metrics: int, top: int) -> None:
    """Print the top entries of a cProfile of one parse + check + compile (all 3 dialects)."""
    with tempfile.TemporaryDirectory() as tmp:
        write_repo(tmp, n_metrics)
        from metricspec.backends import resolve_dialects
        from metricspec.pipeline import compile_all
        from metricspec.semantic import Index

        backends = resolve_dialects(list(DIALECTS))
        profiler = cProfile.Profile()
        profiler.enable()
        loaded, _ = load_and_check(tmp, backends)
        index = Index(loaded.project)
        for backend in backends:
            compile_all(index, [backend])
        profiler.disable()
    print_profile(profiler, f"{n_metrics} metrics", ("cumulative", "tottime"), top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only 100 and 1,000 metrics")
    parser.add_argument("--sizes", type=int, nargs="+", help="metric counts to run")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per size")
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile N metrics instead")
    parser.add_argument("--top", type=int, default=30, help="profile entries to print")
    parser.add_argument("--one-query", type=int, metavar="N",
                        help="time one 10-metric query in an N-metric project instead")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--one-query-child", help=argparse.SUPPRESS)
    parser.add_argument("--together-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    if args.together_child:
        print(json.dumps(together_child(args.together_child)))
        return
    if args.one_query_child:
        print(json.dumps(one_query_child(args.one_query_child)))
        return
    if args.one_query:
        one_query(args.one_query, args.runs)
        return
    if args.profile:
        profile(args.profile, args.top)
        return
    sizes = args.sizes or ((100, 1_000) if args.quick else (100, 1_000, 10_000))
    rows = []
    print(f"median of {args.runs} fresh processes per size; seconds unless marked")
    head = (f"{'metrics':>8} {'sources':>7} {'exps':>5} {'queries':>7} {'parse':>7} "
            f"{'check':>6} " + " ".join(f"{d:>9}" for d in DIALECTS)
            + f" {'total':>7} {'cpu':>7} {'rss@imp':>8} {'peak MB':>8} {'ms/metric':>9}")
    print(head)
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            counts = write_repo(tmp, n)
            m = measure(Path(tmp), args.runs)
            m |= measure(Path(tmp), args.runs, "--together-child")
        rows.append((n, m))
        print(f"{n:>8,} {counts['sources']:>7} {counts['experiments']:>5} "
              f"{int(m['queries']):>7,} {m['parse']:>7.2f} {m['check']:>6.2f} "
              + " ".join(f"{m[d]:>9.2f}" for d in DIALECTS)
              + f" {m['total']:>7.2f} {m['cpu']:>7.2f} {m['rss_imports'] / 1024:>8.0f}"
              f" {m['peak_rss'] / 1024:>8.0f} {1000 * m['total'] / n:>9.2f}", flush=True)
    print("CPU seconds of this process per stage (what wall time would be on an idle core):")
    for n, m in rows:
        print(f"{n:>8,} parse {m['cpu_parse']:.2f}, check {m['cpu_check']:.2f}, "
              + ", ".join(f"{d} {m['cpu_' + d]:.2f}" for d in DIALECTS)
              + f", total {m['cpu']:.2f} ({1000 * m['cpu'] / n:.1f} ms/metric)")
    print("CPU seconds of the compile stages with their worker processes (the work done, "
          "on any core):")
    for n, m in rows:
        print(f"{n:>8,} " + ", ".join(f"{d} {m['cpu_all_' + d]:.2f}" for d in DIALECTS)
              + f", compile {sum(m['cpu_all_' + d] for d in DIALECTS):.2f}"
              + f", parse + check + compile {m['cpu_all']:.2f}")
    imports = statistics.median(m["import"] for _, m in rows)
    print(f"import time (once per process): {imports:.2f} s")
    for (n0, m0), (n1, m1) in itertools.pairwise(rows):
        slopes = {key: math.log(m1[key] / m0[key]) / math.log(n1 / n0)
                  for key in ("parse", "check", *DIALECTS, "total", "cpu")}
        print(f"growth exponent {n0:,} -> {n1:,}: "
              + ", ".join(f"{k} {v:.2f}" for k, v in slopes.items())
              + f"; peak memory {math.log(m1['peak_rss'] / m0['peak_rss']) / math.log(n1 / n0):.2f}"
              )
    print("all dialects in one compile_all call, as `metricspec compile --dialect "
          "duckdb,bigquery,snowflake` compiles them (wall):")
    for n, m in rows:
        print(f"{n:>8,} compile {m['together']:.2f}, parse + check + compile "
              f"{m['total_together']:.2f}")
    for n, m in rows:
        if n == 1_000:
            for label, key in (("dialect by dialect", "total"), ("in one call", "total_together")):
                verdict = "met" if m[key] < TARGET_SECONDS_AT_1000 else "MISSED"
                print(f"target: 1,000 metrics in < {TARGET_SECONDS_AT_1000:.0f} s, {label}: "
                      f"{verdict} ({m[key]:.2f} s wall; "
                      f"{m[key] / TARGET_SECONDS_AT_1000:.2f}x the target)")


if __name__ == "__main__":
    main()
