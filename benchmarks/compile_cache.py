"""The compile cache: cold and warm parse + check + compile, and a re-compile after one metric
changed, on the synthetic spec repos of `compile_scaling.py`.

    .venv/bin/python benchmarks/compile_cache.py                 # 1,000 and 10,000 metrics
    .venv/bin/python benchmarks/compile_cache.py --sizes 1000 --runs 3

For each size a repo is written into a temporary folder with an empty cache folder beside
it. Every run is a fresh Python process that times, after its imports, the stages of
`compile_scaling.py` with the cache on, as `metricspec compile` runs them (`parse.load(...,
cache)` and `check` with as many workers as cores, `compile_all` for DuckDB, BigQuery and
Snowflake with the cache and forked workers):

* cold    — once, with the empty cache (it fills it);
* warm    — nothing changed (`--runs` times);
* changed — one metric's filter changed before each run (a different value each time, so
  every run is a real change: one file parsed again, the metric's source group and the
  experiments, monitors and KPI trees that use it compiled again);
* uncached — for comparison, no cache (once; `--skip-uncached` leaves it out).

`check` alone is `parse + check`; `compile` is all three stages (what `metricspec compile`
does before writing files). Figures are medians; CPU counts this process and its worker
processes (forked parsers and checkers, and the compile workers of cold and uncached
compiles: all are waited for).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from children import cpu_seconds, load_and_check  # noqa: E402
from synthetic_specs import write_repo  # noqa: E402

DIALECTS = ("duckdb", "bigquery", "snowflake")
TARGET_CHANGED_AT_10000 = 0.3


def child(repo: str, folder: str) -> dict[str, float]:
    from metricspec.backends import resolve_dialects
    from metricspec.cache import Cache
    from metricspec.pipeline import compile_all
    from metricspec.semantic import Index

    backends = resolve_dialects(list(DIALECTS))
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    cache = Cache.open(folder) if folder else None
    loaded, stages = load_and_check(repo, backends, cache, Path(repo).parent,
                                    workers=os.cpu_count() or 1)
    c2, t2 = cpu_seconds(), time.perf_counter()
    hits = cache.hits if cache else 0
    compiled, failed = compile_all(Index(loaded.project), backends,
                                   workers=os.cpu_count() or 1, cache=cache)
    c3, t3 = cpu_seconds(), time.perf_counter()
    if failed:
        raise SystemExit(f"{len(failed)} objects failed to compile")
    return stages | {"compile": t3 - t2, "total": t3 - t0, "cpu_compile": c3 - c2,
            "cpu": c3 - cpu0, "queries": len(compiled),
            "sql_hits": (cache.hits - hits) if cache else 0}


def run(repo: Path, folder: str) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, "--child", str(repo), folder],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stdout}\n{proc.stderr}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def change_one_metric(repo: Path, number: int) -> str:
    """Change the filter of one metric in the middle of the repo; returns its name."""
    files = sorted((repo / "metrics").glob("*.mspec"))
    for path in files[len(files) // 2:]:
        text = path.read_text()
        found = re.search(r"metric (m\d+) [^\n]*channel <> '(voice[0-9]*)'", text)
        if found is not None:
            break
    else:
        raise SystemExit("no metric with a channel filter in the second half of the repo")
    start, end = found.span(2)
    path.write_text(text[:start] + f"voice{number}" + text[end:])
    return found.group(1)


def median(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rows) for key in rows[0]}


def line(label: str, m: dict[str, float]) -> str:
    return (f"  {label:<9} parse {m['parse']:6.2f}  check {m['check']:5.2f}  compile "
            f"{m['compile']:6.2f}  total {m['total']:6.2f} s wall; CPU parse "
            f"{m['cpu_parse']:.2f}, check {m['cpu_check']:.2f}, compile {m['cpu_compile']:.2f},"
            f" total {m['cpu']:.2f} s; {int(m['sql_hits'])} cache hits, "
            f"{int(m['queries'])} queries")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-uncached", action="store_true",
                        help="leave out the uncached build (minutes at 10,000 metrics)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    print(f"medians of {args.runs} fresh processes (cold and uncached: one); seconds")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp) / "specs"
            write_repo(repo, n)
            folder = str(Path(tmp) / "cache")
            print(f"{n:,} metrics:", flush=True)
            if not args.skip_uncached:
                print(line("uncached", run(repo, "")), flush=True)
            print(line("cold", run(repo, folder)), flush=True)
            print(line("warm", median([run(repo, folder) for _ in range(args.runs)])),
                  flush=True)
            changed = []
            for number in range(args.runs):
                change_one_metric(repo, number + 1)
                changed.append(run(repo, folder))
            m = median(changed)
            print(line("changed", m), flush=True)
            if n == 10_000:
                verdict = "met" if m["total"] < TARGET_CHANGED_AT_10000 else "MISSED"
                print(f"target: re-compile after one change < {TARGET_CHANGED_AT_10000} s: "
                      f"{verdict} ({m['total']:.2f} s wall, {m['cpu']:.2f} s CPU)")


if __name__ == "__main__":
    main()
