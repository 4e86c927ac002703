"""Large seeded simulations of the statistics engine (the unit suite runs smaller ones).

Prints A/A false-positive rates per metric kind, the peeking experiment (naive repeated
Welch tests versus always-valid confidence sequences) and the observed power of planned
designs. Results are recorded in docs/statistics.md.

    python benchmarks/stats_simulation.py
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "stats")]

from stats_simulate import (  # noqa: E402
    false_positive_rate,
    observed_power,
    peeking,
    quantile_false_positive_rate,
)


def _se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


def main() -> None:
    """Run and print every simulation."""
    start = time.perf_counter()
    sims = 20_000
    print(f"A/A false-positive rate at alpha = 0.05 ({sims:,} experiments each, seed 1)")
    for kind, n in (("mean", 300), ("proportion", 1000), ("ratio", 300), ("cuped", 300)):
        rate = false_positive_rate(kind, sims=sims, n=n, seed=1)
        print(f"  {kind:<10} n/arm={n:<5} FPR = {rate:.4f} (± {1.96 * _se(0.05, sims):.4f})")
    for clustered in (True, False):
        rate = quantile_false_positive_rate(sims=10_000, seed=1, clustered=clustered)
        label = "clustered variance" if clustered else "i.i.d. variance (wrong here)"
        print(f"  p90 over 5 correlated events/unit, {label}: FPR = {rate:.4f} (10,000 exp.)")
    print("Peeking: A/A, false positive if any look is significant (10,000 experiments)")
    for looks in (10, 20):
        naive, seq = peeking(sims=10_000, looks=looks, n_final=1000, seed=2)
        print(f"  {looks} looks: naive Welch {naive:.4f}, confidence sequence {seq:.4f}")
    print("Power of a design planned for 80 % at a 5 % relative MDE (10,000 experiments)")
    for seed in (3, 4):
        n, power = observed_power(sims=10_000, seed=seed)
        print(
            f"  seed {seed}: n/arm = {n}, observed power = {power:.4f} "
            f"(± {1.96 * _se(0.8, 10_000):.4f})"
        )
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
