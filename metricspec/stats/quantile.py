"""Quantile metrics (e.g. p90 latency) with unit-clustered variance, as in gbstats.

The SQL supplies the sample quantile q̂ at level ν over all events and the quantiles at
ν ∓ z₀.₉₇₅·sqrt(ν(1−ν)/n*) (n* = 100·2^k, the largest not above the number of events).
Their spread gives an i.i.d. variance for q̂ (gbstats ``QuantileStatistic``):

    σ²_iid = (n*/n)·(n − 1)·((q_upper − q_lower) / (2 z₀.₉₇₅))²     (per event; n events)

When units contribute several events the events are correlated, so this is inflated by the
design effect of the fraction of events at or below q̂, estimated by the delta method for
the ratio Σ below_i / Σ events_i over units (gbstats ``QuantileClusteredStatistic``):

    σ² = σ²_iid · Var_cluster(p̂) / (ν(1−ν)/n).

With one event per unit the i.i.d. formula is used unchanged (reference section 8).
The comparison is then a Welch t-test on (q̂, σ², n events) like any other metric.
"""

from __future__ import annotations

import math

from scipy import stats

from metricspec.stats.moments import QuantileMoments
from metricspec.stats.summary import VariantSummary

__all__ = ["Z_975", "cluster_fraction_variance", "quantile_summary"]

Z_975 = float(stats.norm.ppf(0.975))
"""The normal quantile used to place ``quantile_lower``/``quantile_upper``."""


def cluster_fraction_variance(q: QuantileMoments) -> float | None:
    """Return the delta-method variance of Σbelow/Σevents over units, or None if unknown."""
    k = q.n_units
    if q.sum_below is None or q.sum_below2 is None or q.sum_events2 is None:
        return None
    if q.sum_below_events is None or k < 2 or q.sum_events <= 0:
        return None
    mu_s, mu_n = q.sum_below / k, q.sum_events / k
    var_s = (q.sum_below2 / k - mu_s * mu_s) * k / (k - 1)
    var_n = (q.sum_events2 / k - mu_n * mu_n) * k / (k - 1)
    cov_sn = (q.sum_below_events / k - mu_s * mu_n) * k / (k - 1)
    num = var_s - 2.0 * mu_s * cov_sn / mu_n + mu_s**2 * var_n / mu_n**2
    return num / (k * mu_n**2)


def quantile_summary(q: QuantileMoments, nu: float) -> VariantSummary | str:
    """Return the summary of a quantile estimate (n = events), or why it is unavailable."""
    if not q.is_finite():
        return "quantile statistics are not finite"
    n = q.n_events
    if q.n_units < 2 or n < 2:
        return f"fewer than 2 units or events (units={q.n_units}, events={n:g})"
    bound = Z_975**2 * max(nu / (1.0 - nu), (1.0 - nu) / nu)
    if n <= bound:
        return f"too few events ({n:g}) for a {nu:g} quantile interval"
    tol = 1e-9 * max(abs(q.quantile), abs(q.quantile_lower), abs(q.quantile_upper))
    if not q.quantile_lower - tol <= q.quantile <= q.quantile_upper + tol:
        return (
            f"impossible statistics: q = {q.quantile:g} is not within "
            f"[q_lower, q_upper] = [{q.quantile_lower:g}, {q.quantile_upper:g}]"
        )
    if not 2.0 <= q.n_star <= n:
        return f"impossible statistics: n_star = {q.n_star:g} is not between 2 and {n:g} events"
    spread = (q.quantile_upper - q.quantile_lower) / (2.0 * Z_975)
    var = (q.n_star / n) * (n - 1.0) * spread**2
    if not q.one_event_per_unit:
        cluster = cluster_fraction_variance(q)
        if cluster is None:
            return "clustered quantile needs Σbelow, Σbelow², Σevents² and Σbelow·events"
        var *= cluster / (nu * (1.0 - nu) / n)
    if not math.isfinite(var) or var <= 0.0:
        return "quantile variance is zero (lower and upper quantiles coincide)"
    return VariantSummary.plain(n, q.quantile, var)
