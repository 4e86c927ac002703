"""Time `metricspec.stats.analyze` on 1,000 and 10,000 metrics × 3 variants.

Metrics are a realistic mix: means, proportions, ratios, CUPED means and CUPED ratios,
with a Holm correction over the family. Prints the median wall time of several runs.

    python benchmarks/stats_speed.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from metricspec.stats import (
    Correction,
    ExperimentConfig,
    ExperimentData,
    Margin,
    MetricKind,
    MetricSpec,
    Moments,
    Role,
    VariantData,
    analyze,
)

VARIANTS = ("control", "a", "b")
KINDS = ("mean", "proportion", "ratio", "cuped_mean", "cuped_ratio")


def build(
    n_metrics: int, seed: int = 1
) -> tuple[ExperimentConfig, list[MetricSpec], ExperimentData]:
    """Return a config, metric specs and synthetic sufficient statistics."""
    rng = np.random.default_rng(seed)
    specs: list[MetricSpec] = []
    per_variant: dict[str, dict[str, Moments]] = {v: {} for v in VARIANTS}
    for i in range(n_metrics):
        kind = KINDS[i % len(KINDS)]
        name = f"m{i}"
        role = Role.PRIMARY if i == 0 else Role.GUARDRAIL if i % 50 == 1 else Role.SECONDARY
        margin = Margin(0.05) if role is Role.GUARDRAIL else None
        if kind == "proportion":
            specs.append(MetricSpec(name, MetricKind.PROPORTION, role=role, margin=margin))
        elif kind in ("ratio", "cuped_ratio"):
            cuped = (
                {f"{name}.x": f"{name}.c", f"{name}.y": f"{name}.d"}
                if kind == "cuped_ratio"
                else None
            )
            specs.append(MetricSpec(name, MetricKind.RATIO, role=role, cuped=cuped, margin=margin))
        else:
            cuped = {f"{name}.x": f"{name}.c"} if kind == "cuped_mean" else None
            specs.append(MetricSpec(name, role=role, cuped=cuped, margin=margin))
        for v in VARIANTS:
            n = int(rng.integers(9_000, 11_000))
            cols: dict[str, np.ndarray] = {}
            if kind == "proportion":
                cols[f"{name}.x"] = (rng.random(200) < 0.1).astype(float)
            else:
                cols[f"{name}.x"] = rng.gamma(2.0, 3.0, 200)
                if kind in ("ratio", "cuped_ratio"):
                    cols[f"{name}.y"] = cols[f"{name}.x"] + rng.gamma(2.0, 3.0, 200)
                if kind.startswith("cuped"):
                    cols[f"{name}.c"] = cols[f"{name}.x"] + rng.normal(0, 1, 200)
                if kind == "cuped_ratio":
                    cols[f"{name}.d"] = cols[f"{name}.y"] + rng.normal(0, 1, 200)
            small = Moments.from_units(cols)
            scale = n / small.n
            per_variant[v][name] = Moments(
                n,
                {k: s * scale for k, s in small.sums.items()},
                {k: p * scale for k, p in small.products.items()},
            )
    config = ExperimentConfig(
        control="control", variants=dict.fromkeys(VARIANTS, 1.0), correction=Correction.HOLM
    )
    data = ExperimentData.single(
        {v: VariantData(moments=m, units=10_000) for v, m in per_variant.items()}
    )
    return config, specs, data


def median_seconds(n_metrics: int, runs: int) -> tuple[float, float]:
    """Return the median wall and CPU times of ``runs`` analyses of ``n_metrics`` metrics.

    CPU time (this process only) is also reported because wall time on a shared machine
    includes time spent waiting for a core.
    """
    config, specs, data = build(n_metrics)
    analyze(config, specs, data)  # warm-up (imports, caches)
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        analyze(config, specs, data)
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    """Print the median analysis time for 1,000 and 10,000 metrics × 3 variants."""
    for n_metrics, runs in ((1_000, 15), (10_000, 5)):
        wall, cpu = median_seconds(n_metrics, runs)
        print(
            f"{n_metrics:>6} metrics x 3 variants: median {wall * 1000:7.1f} ms wall, "
            f"{cpu * 1000:7.1f} ms CPU over {runs} runs"
        )


if __name__ == "__main__":
    main()
