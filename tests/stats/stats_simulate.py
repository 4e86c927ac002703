"""Seeded, vectorised experiment simulations for the statistics engine.

Unit-level data are drawn for many simulated experiments at once, reduced to sufficient
statistics with NumPy, and analysed in a single `analyze` call in which every simulated
experiment is one segment. Used by tests/stats/test_stats_simulation.py (small runs) and
benchmarks/stats_simulation.py (large runs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from metricspec.stats import (
    ExperimentConfig,
    ExperimentData,
    Mde,
    MetricKind,
    MetricSpec,
    Moments,
    QuantileMoments,
    SegmentData,
    VariantData,
    analyze,
    plan_power,
)
from metricspec.stats.inference import Comparisons, effects, two_sided_p
from metricspec.stats.sequential import always_valid_p, rho

Arrays = dict[str, np.ndarray]
Generator = Callable[[np.random.Generator, int, int, float], Arrays]

ARMS = ("control", "treatment")


def _mean(rng: np.random.Generator, sims: int, n: int, lift: float) -> Arrays:
    return {"m.x": rng.gamma(2.0, 5.0, (sims, n)) * (1.0 + lift)}


def _normal(rng: np.random.Generator, sims: int, n: int, lift: float) -> Arrays:
    return {"m.x": rng.normal(50.0 * (1.0 + lift), 10.0, (sims, n))}


def _proportion(rng: np.random.Generator, sims: int, n: int, lift: float) -> Arrays:
    return {"m.x": (rng.random((sims, n)) < 0.1 * (1.0 + lift)).astype(float)}


def _ratio(rng: np.random.Generator, sims: int, n: int, lift: float) -> Arrays:
    sessions = 1.0 + rng.poisson(3.0, (sims, n))
    return {"m.x": rng.binomial(sessions.astype(int), 0.3 * (1.0 + lift)), "m.y": sessions}


def _cuped(rng: np.random.Generator, sims: int, n: int, lift: float) -> Arrays:
    pre = rng.gamma(2.0, 5.0, (sims, n))
    post = 0.8 * pre + rng.gamma(2.0, 2.0, (sims, n))
    return {"m.x": post * (1.0 + lift), "m.c": pre}


GENERATORS: dict[str, tuple[Generator, MetricSpec]] = {
    "mean": (_mean, MetricSpec("m")),
    "normal": (_normal, MetricSpec("m")),
    "proportion": (_proportion, MetricSpec("m", MetricKind.PROPORTION)),
    "ratio": (_ratio, MetricSpec("m", MetricKind.RATIO)),
    "cuped": (_cuped, MetricSpec("m", cuped={"m.x": "m.c"})),
}


def moments_per_sim(cols: Arrays, upto: int | None = None) -> list[Moments]:
    """Reduce (sims, n) unit columns to one `Moments` per simulated experiment."""
    names = sorted(cols)
    data = {k: np.asarray(v, dtype=float)[:, :upto] for k, v in cols.items()}
    n = next(iter(data.values())).shape[1]
    sums = {k: v.sum(axis=1) for k, v in data.items()}
    prods = {
        (a, b): np.einsum("ij,ij->i", data[a], data[b])
        for i, a in enumerate(names)
        for b in names[i:]
    }
    sims = len(next(iter(sums.values())))
    return [
        Moments(
            n, {k: float(s[j]) for k, s in sums.items()}, {k: float(p[j]) for k, p in prods.items()}
        )
        for j in range(sims)
    ]


def _as_segments(arms: dict[str, list[Moments]]) -> ExperimentData:
    """Return one segment per simulated experiment."""
    sims = len(arms["control"])
    return ExperimentData(
        tuple(
            SegmentData("sim", str(j), {a: VariantData({"m": arms[a][j]}) for a in ARMS})
            for j in range(sims)
        )
    )


def significant_share(
    config: ExperimentConfig, spec: MetricSpec, arms: dict[str, list[Moments]]
) -> float:
    """Analyse every simulated experiment and return the share with adjusted p < alpha."""
    result = analyze(config, [spec], _as_segments(arms))
    sims = [r for r in result.metrics if r.segment == "sim"]  # the overall row has no data
    p = np.array([np.nan if r.adjusted_p_value is None else r.adjusted_p_value for r in sims])
    assert not np.isnan(p).any(), "every simulated comparison should be analysable"
    return float(np.mean(p < config.alpha))


def false_positive_rate(kind: str, sims: int, n: int, seed: int) -> float:
    """Return the share of A/A experiments declared significant at alpha = 0.05."""
    gen, spec = GENERATORS[kind]
    rng = np.random.default_rng(seed)
    config = ExperimentConfig("control", {"control": 1, "treatment": 1})
    arms = {a: moments_per_sim(gen(rng, sims, n, 0.0)) for a in ARMS}
    return significant_share(config, spec, arms)


def _look_comparisons(cols: dict[str, Arrays], upto: int) -> Comparisons:
    """Return vectorised comparisons of the first ``upto`` units of every simulation."""
    stats = {}
    for a in ARMS:
        x = cols[a]["m.x"][:, :upto]
        stats[a] = (np.full(x.shape[0], float(upto)), x.mean(axis=1), x.var(axis=1, ddof=1))
    (n_c, m_c, v_c), (n_t, m_t, v_t) = stats["control"], stats["treatment"]
    flags = np.ones(n_c.size, dtype=bool)
    return Comparisons(n_c, m_c, m_c, v_c, v_c, v_c, n_t, m_t, m_t, v_t, flags, flags)


def peeking(sims: int, looks: int, n_final: int, seed: int) -> tuple[float, float]:
    """Return (naive, sequential) A/A rejection rates when testing at every look.

    A simulated experiment counts as a false positive if any of ``looks`` equally spaced
    interim analyses is significant. Uses the engine's vectorised inference directly
    (`peeking_engine_check` shows `analyze` gives the same p-values).
    """
    rng = np.random.default_rng(seed)
    cols = {a: _mean(rng, sims, n_final, 0.0) for a in ARMS}
    r = rho(0.05, 2 * n_final)
    naive = np.zeros(sims, dtype=bool)
    seq = np.zeros(sims, dtype=bool)
    for k in range(1, looks + 1):
        eff = effects(_look_comparisons(cols, n_final * k // looks))
        naive |= two_sided_p(eff.diff, eff.se, eff.df) < 0.05
        seq |= always_valid_p(eff.diff, eff.se, np.full(sims, 2.0 * n_final * k / looks), r) < 0.05
    return float(naive.mean()), float(seq.mean())


def peeking_engine_check(sims: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (vectorised, analyze) sequential p-values for the same A/A data."""
    rng = np.random.default_rng(seed)
    cols = {a: _mean(rng, sims, n, 0.0) for a in ARMS}
    eff = effects(_look_comparisons(cols, n))
    fast = always_valid_p(eff.diff, eff.se, np.full(sims, 2.0 * n), rho(0.05, 2 * n))
    config = ExperimentConfig(
        "control", {"control": 1, "treatment": 1}, sequential=True, sequential_tuning=2 * n
    )
    arms = {a: moments_per_sim(cols[a]) for a in ARMS}
    result = analyze(config, [GENERATORS["mean"][1]], _as_segments(arms))
    sims_only = [m for m in result.metrics if m.segment == "sim"]
    return fast, np.array([m.p_value for m in sims_only], dtype=float)


def observed_power(
    sims: int, seed: int, mde: float = 0.05, power: float = 0.8
) -> tuple[int, float]:
    """Plan a design for ``power`` at a relative ``mde``, simulate it; return (n, power)."""
    rng = np.random.default_rng(seed)
    config = ExperimentConfig("control", {"control": 1, "treatment": 1}, power=power)
    spec = GENERATORS["normal"][1]
    baseline = moments_per_sim(_normal(rng, 1, 200_000, 0.0))[0]
    plan = plan_power(spec, baseline, config, mde=Mde(mde))
    n = plan.n_per_variant["control"]
    arms = {
        "control": moments_per_sim(_normal(rng, sims, n, 0.0)),
        "treatment": moments_per_sim(_normal(rng, sims, n, mde)),
    }
    return n, significant_share(config, spec, arms)


def _quantile_arm(
    rng: np.random.Generator, sims: int, units: int, per_unit: int, nu: float, clustered: bool
) -> list[QuantileMoments]:
    """Return latency-like events, ``per_unit`` per unit, correlated through a unit effect."""
    unit_effect = rng.normal(0.0, 0.8, (sims, units, 1))
    events = np.exp(5.0 + unit_effect + rng.normal(0.0, 0.5, (sims, units, per_unit)))
    flat = events.reshape(sims, -1)
    n = flat.shape[1]
    n_star = 100 * 2 ** int(np.floor(np.log2(n / 100)))
    half = 1.959963984540054 * np.sqrt(nu * (1 - nu) / n_star)
    q, lo, hi = np.quantile(flat, [nu, nu - half, nu + half], axis=1)
    below = (events <= q[:, None, None]).sum(axis=2).astype(float)
    out = []
    for j in range(sims):
        b = below[j]
        out.append(
            QuantileMoments(
                n_units=units,
                quantile=float(q[j]),
                quantile_lower=float(lo[j]),
                quantile_upper=float(hi[j]),
                n_star=n_star,
                sum_events=float(n),
                sum_events2=float(units * per_unit**2) if clustered else float(n),
                sum_below=float(b.sum()),
                sum_below2=float((b * b).sum()),
                sum_below_events=float(b.sum() * per_unit),
            )
        )
    return out


def quantile_false_positive_rate(sims: int, seed: int, clustered: bool = True) -> float:
    """Return the A/A rejection rate of a p90 over clustered events.

    With ``clustered=False`` the statistics pretend every event is its own unit (the i.i.d.
    formula), which is what the clustered variance corrects.
    """
    rng = np.random.default_rng(seed)
    units, per_unit, nu = 200, 5, 0.9
    spec = MetricSpec("q", MetricKind.QUANTILE, quantile_level=nu)
    config = ExperimentConfig("control", {"control": 1, "treatment": 1})
    arms = {a: _quantile_arm(rng, sims, units, per_unit, nu, clustered) for a in ARMS}
    if not clustered:
        arms = {
            a: [dataclasses.replace(q, n_units=int(q.sum_events)) for q in qs]
            for a, qs in arms.items()
        }
    data = ExperimentData(
        tuple(
            SegmentData("sim", str(j), {a: VariantData(quantiles={"q": arms[a][j]}) for a in ARMS})
            for j in range(sims)
        )
    )
    result = analyze(config, [spec], data)
    return float(np.mean([r.significant for r in result.metrics if r.segment == "sim"]))
