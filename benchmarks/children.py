"""What the timing benchmarks share: medians over fresh child processes of the script, and
printing a cProfile's top entries."""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import statistics
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


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
