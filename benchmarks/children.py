"""What the timing benchmarks share: loading and checking a spec repo (timed, and refusing
one with errors), medians over fresh child processes of the script, and printing a
cProfile's top entries."""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have ended (the forked
    parsers and checkers of `workers` > 1 are waited for, so they count)."""
    times = os.times()
    return time.process_time() + times.children_user + times.children_system


def load_and_check(repo: str, backends: list[Any], cache: Any = None,
                   root: Path | None = None,
                   workers: int = 1) -> tuple[Any, dict[str, float]]:
    """Parse and check `repo` as every command does (the command line passes `workers`:
    the number of cores); the project and the wall and CPU seconds of each stage (`parse`,
    `check`, `cpu_parse`, `cpu_check`; CPU includes forked workers). A repo with errors
    ends the process: timing a project that would not compile measures nothing."""
    from metricspec.parse import load
    from metricspec.workspace import check_cached

    c0, t0 = cpu_seconds(), time.perf_counter()
    loaded = load([repo], root, cache, workers=workers)
    c1, t1 = cpu_seconds(), time.perf_counter()
    # with a cache, a check of the same files and backends is read from it, as commands do
    diagnostics = check_cached(loaded, tuple(backends), None, None, None, cache, workers)
    c2, t2 = cpu_seconds(), time.perf_counter()
    errors = [d for d in loaded.diagnostics + diagnostics if d.is_error]
    if errors:
        raise SystemExit(f"{repo} has {len(errors)} errors, e.g. {errors[0].message}")
    return loaded, {"parse": t1 - t0, "check": t2 - t1, "cpu_parse": c1 - c0,
                    "cpu_check": c2 - c1}


def median_of_children(script: str, mode: str, repo: Path, runs: int,
                       env: Mapping[str, str] | None = None) -> dict[str, float]:
    """Median of each figure over `runs` fresh processes of `script mode repo`, each
    printing its figures as JSON on its last line."""
    results = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, script, mode, str(repo)], capture_output=True,
                              text=True, check=False, env=None if env is None else dict(env))
        if proc.returncode != 0:
            raise SystemExit(f"child failed:\n{proc.stdout}\n{proc.stderr}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def print_profile(profiler: cProfile.Profile, title: str, orders: tuple[str, ...],
                  top: int) -> None:
    """The `top` entries of the profile, once per sort order."""
    for order in orders:
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(order).print_stats(top)
        text = buffer.getvalue()
        print(f"## {title}, sorted by {order}")
        print(text[text.index("ncalls"):].rstrip() if "ncalls" in text else text)
        print()
