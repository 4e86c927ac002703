"""Benchmark the demo warehouse generator at scales giving ~10^5, 10^6 and 10^7 messages.

Run from a checkout::

    PYTHONPATH=. python benchmarks/demo_generate.py            # all three sizes
    PYTHONPATH=. python benchmarks/demo_generate.py --max 1e6  # skip the 10^7 run
    PYTHONPATH=. python benchmarks/demo_generate.py --scale 157 --runs 1  # ~10^8 messages
    PYTHONPATH=. python benchmarks/demo_generate.py --memory   # into an in-memory database

Each run writes into a fresh DuckDB file in a temporary directory (what ``metricspec demo``
does) unless ``--memory``; the small sizes report the median of three runs. CPU seconds
include DuckDB's threads. Messages grow as
``a * scale + b * min(1, 4 * scale)`` (the monitoring day has a fixed size from scale 0.25),
and the scales below solve that for each target.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from metricspec.demo import generate

MESSAGES_PER_SCALE = 636_000
"""Messages of the ordinary period per unit of scale (measured)."""
MONITORING_DAY_MESSAGES = 430_000
"""Messages of the monitoring day at full density (scale >= 0.25)."""


def scale_for(messages: float) -> float:
    """Return the scale that gives about ``messages`` messages.

    >>> round(scale_for(1e6), 2), round(scale_for(1e7), 1)
    (0.9, 15.0)
    """
    full = 0.25 * MESSAGES_PER_SCALE + MONITORING_DAY_MESSAGES
    if messages >= full:
        return (messages - MONITORING_DAY_MESSAGES) / MESSAGES_PER_SCALE
    return messages / (MESSAGES_PER_SCALE + 4 * MONITORING_DAY_MESSAGES)


def run(scale: float, runs: int, memory: bool) -> tuple[float, float, dict[str, int]]:
    """Generate ``runs`` times; return median wall seconds, median CPU seconds and rows."""
    walls, cpus, rows = [], [], {}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            target = ":memory:" if memory else Path(tmp) / "demo.duckdb"
            started, cpu = time.perf_counter(), time.process_time()
            summary = generate(target, scale=scale)
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
            rows = dict(summary.rows)
    return statistics.median(walls), statistics.median(cpus), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=float, default=1e7, help="largest message target")
    parser.add_argument("--scale", type=float, help="benchmark one scale instead")
    parser.add_argument("--runs", type=int, help="runs per size (default 3, 1 at 10^7)")
    parser.add_argument("--memory", action="store_true", help="generate into :memory:")
    args = parser.parse_args()
    if args.scale:
        plan = [(args.scale, args.runs or 1)]
    else:
        targets = [t for t in (1e5, 1e6, 1e7) if t <= args.max]
        plan = [(round(scale_for(t), 4), args.runs or (3 if t < 1e7 else 1)) for t in targets]
    header = f"{'scale':>8} {'runs':>4} {'wall s':>7} {'cpu s':>7} {'users':>9} {'assign.':>10}"
    print(header + f" {'convers.':>10} {'messages':>11} {'feedback':>9} {'Mmsg/s':>7}")
    for scale, runs in plan:
        wall, cpu, rows = run(scale, runs, args.memory)
        print(
            f"{scale:>8} {runs:>4} {wall:>7.2f} {cpu:>7.2f} {rows['users']:>9,} "
            f"{rows['assignments']:>10,} {rows['conversations']:>10,} {rows['messages']:>11,} "
            f"{rows['feedback']:>9,} {rows['messages'] / wall / 1e6:>7.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
