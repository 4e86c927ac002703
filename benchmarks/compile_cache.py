"""The compile cache: cold and warm parse + check + compile, and a re-compile after one metric
changed, on the synthetic spec repos of `compile_scaling.py`.

    .venv/bin/python benchmarks/compile_cache.py                 # 1,000 and 10,000 metrics
    .venv/bin/python benchmarks/compile_cache.py --sizes 1000 --runs 3

For each size a repo is written into a temporary folder with an empty cache folder beside
it. Every run is a fresh Python process that times, after its imports, what `metricspec
compile` does before writing files: `rebuild.build` of the repo for DuckDB, BigQuery and
Snowflake, with the cache and as many workers as cores (from the last build's snapshot when
one applies, in full otherwise):

* cold    — once, with the empty cache (it fills it);
* warm    — nothing changed (`--runs` times);
* changed — one metric's filter changed before each run (a different value each time, so
  every run is a real change: one file parsed again; the metric, what uses it and the other
  metrics of its source group loaded and checked again; its source group's queries and
  those of the experiments, monitors and KPI trees that use it compiled again);
* uncached — for comparison, no cache (once; `--skip-uncached` leaves it out).

The stages are `Build.seconds` (read and parse, check, compile); figures are medians; CPU
counts this process and its worker processes (forked parsers and checkers, and the compile
workers of cold and uncached builds: all are waited for).
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

from children import cpu_seconds  # noqa: E402
from synthetic_specs import write_repo  # noqa: E402

DIALECTS = ("duckdb", "bigquery", "snowflake")
TARGET_CHANGED_AT_10000 = 0.3


def child(repo: str, folder: str) -> dict[str, float]:
    from metricspec.backends import resolve_dialects
    from metricspec.cache import Cache
    from metricspec.rebuild import build

    backends = resolve_dialects(list(DIALECTS))
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    cache = Cache.open(folder) if folder else None
    done = build([repo], backends, root=Path(repo).parent, cache=cache,
                 workers=os.cpu_count() or 1)
    cpu1, t1 = cpu_seconds(), time.perf_counter()
    if not done.ok or done.failed:
        raise SystemExit(f"{len(done.errors)} errors, {len(done.failed)} objects failed")
    return {**done.seconds, "total": t1 - t0, "cpu": cpu1 - cpu0,
            "queries": len(done.compiled), "incremental": float(done.incremental),
            "hits": cache.hits if cache else 0}


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
            f"{m['compile']:6.2f}  total {m['total']:6.2f} s wall, {m['cpu']:.2f} s CPU; "
            f"{int(m['hits'])} cache hits, {int(m['queries'])} queries"
            + ("; from the last build" if m["incremental"] else ""))


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
