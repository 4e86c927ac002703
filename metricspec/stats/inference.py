"""Two-sample comparisons, vectorised over many (metric, treatment, segment) rows.

Given each arm's `VariantSummary`, compute the absolute difference h_t − h_c with its
standard error sqrt(var_t/n_t + var_c/n_c), the Welch–Satterthwaite degrees of freedom,
and the relative lift (h_t − h_c)/|f_c| with its delta-method standard error (dividing by
the magnitude keeps the lift's sign that of the difference when the baseline is negative,
as gbstats does since growthbook#6658; the variance, a square, does not depend on the
sign). p-values and intervals use Student's t with those df, or the normal distribution
where df = ∞ (the z test for proportions). All functions take and return NumPy arrays so
one call covers every row of an analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from metricspec.stats.summary import VariantSummary

__all__ = [
    "Comparisons",
    "Effects",
    "cdf",
    "effects",
    "interval",
    "quantile",
    "two_sided_p",
    "welch_df",
]

Array = npt.NDArray[np.float64]


def cdf(x: Array, df: Array) -> Array:
    """Return the CDF of Student's t with ``df`` degrees of freedom (normal where df = ∞)."""
    return np.asarray(special.stdtr(df, x), dtype=float)


def quantile(p: Array | float, df: Array) -> Array:
    """Return the ``p`` quantile of Student's t (normal where df = ∞)."""
    return np.asarray(special.stdtrit(df, p), dtype=float)


def welch_df(var_a: Array, n_a: Array, var_b: Array, n_b: Array) -> Array:
    """Return the Welch–Satterthwaite degrees of freedom of var_a/n_a + var_b/n_b."""
    ua, ub = var_a / n_a, var_b / n_b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((ua + ub) ** 2 / (ua**2 / (n_a - 1) + ub**2 / (n_b - 1)), dtype=float)


def two_sided_p(estimate: Array, se: Array, df: Array) -> Array:
    """Return the two-sided p-value of estimate/se against t(df) (or N(0,1))."""
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.abs(estimate / se)
    return np.asarray(2.0 * special.stdtr(df, -stat), dtype=float)


def interval(estimate: Array, se: Array, df: Array, alpha: Array) -> tuple[Array, Array]:
    """Return the two-sided (1 − alpha) interval estimate ± q·se."""
    half = quantile(1.0 - alpha / 2.0, df) * se
    return estimate - half, estimate + half


@dataclass(frozen=True, slots=True)
class Comparisons:
    """Column arrays of control/treatment summaries, one entry per comparison.

    ``use_t`` selects Welch's t (else the z test); ``plugin_adjusted`` selects which
    difference the relative lift's control-side gradient is evaluated at (see
    `metricspec.stats.cuped`).
    """

    n_c: Array
    value_c: Array
    base_c: Array
    var_c: Array
    cov_base_c: Array
    var_base_c: Array
    n_t: Array
    value_t: Array
    base_t: Array
    var_t: Array
    use_t: npt.NDArray[np.bool_]
    plugin_adjusted: npt.NDArray[np.bool_]

    @classmethod
    def build(
        cls, rows: Sequence[tuple[VariantSummary, VariantSummary, bool, bool]]
    ) -> Comparisons:
        """Stack (control, treatment, use_t, plugin_adjusted) rows into arrays."""
        if rows:
            data = np.array(
                [
                    (
                        c.n,
                        c.value,
                        c.base,
                        c.var,
                        c.cov_base,
                        c.var_base,
                        t.n,
                        t.value,
                        t.base,
                        t.var,
                    )
                    for c, t, _, _ in rows
                ],
                dtype=float,
            )
        else:
            data = np.zeros((0, 10))
        flags = np.array([(u, p) for _, _, u, p in rows], dtype=bool).reshape(-1, 2)
        col = [np.ascontiguousarray(data[:, i]) for i in range(10)]
        return cls(
            col[0],
            col[1],
            col[2],
            col[3],
            col[4],
            col[5],
            col[6],
            col[7],
            col[8],
            col[9],
            use_t=flags[:, 0],
            plugin_adjusted=flags[:, 1],
        )


@dataclass(frozen=True, slots=True)
class Effects:
    """Point estimates, standard errors and degrees of freedom per comparison."""

    diff: Array
    se: Array
    df: Array
    lift: Array
    lift_se: Array


def effects(c: Comparisons) -> Effects:
    """Return absolute and relative effects with their standard errors.

    Relative lift L = (h_t − h_c)/|f_c|. Its delta-method variance (the same for f_c and −f_c) is
    var_t/(n_t f_c²) + (var_c/f_c² + 2D·cov_c/f_c³ + D²·var_f,c/f_c⁴)/n_c, where D is the
    difference the control-side gradient is evaluated at; without CUPED this reduces to
    var_t/(n_t f_c²) + var_c f_t²/(n_c f_c⁴) (gbstats ``frequentist_variance``).
    """
    diff = c.value_t - c.value_c
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        se = np.sqrt(c.var_t / c.n_t + c.var_c / c.n_c)
        df = np.where(c.use_t, welch_df(c.var_c, c.n_c, c.var_t, c.n_t), np.inf)
        f = c.base_c
        d = np.where(c.plugin_adjusted, diff, c.base_t - c.base_c)
        var_ctrl = (
            c.var_c / f**2 + 2.0 * d * c.cov_base_c / f**3 + d**2 * c.var_base_c / f**4
        ) / c.n_c
        lift_var = c.var_t / (c.n_t * f**2) + var_ctrl
        lift = diff / np.abs(f)
        lift_se = np.sqrt(np.maximum(lift_var, 0.0))
    return Effects(diff, se, df, lift, lift_se)
