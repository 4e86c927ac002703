"""Vectorised per-variant summaries for the common metric shapes (a speed path).

Most metrics are a mean, a proportion or a ratio of two components of one base metric,
with or without CUPED. For these the delta-method and CUPED arithmetic of `summary` and
`cuped` has a closed form, evaluated here with NumPy over all such metrics of a segment at
once. A mean is the ratio with y ≡ 1 (so its y-covariances are exactly zero).

Anything unusual — missing or non-finite statistics, n < 2, a zero denominator, another
formula — is left to the general path (`prepare.prepare`), which also produces the
"insufficient data" reasons. tests/stats/test_stats_batch.py checks both paths agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from metricspec.stats.conventions import method_for
from metricspec.stats.cuped import CupedFit
from metricspec.stats.data import SegmentData, base_metric
from metricspec.stats.formula import Component, Div
from metricspec.stats.moments import pair
from metricspec.stats.prepare import Prepared, finish
from metricspec.stats.spec import MetricKind, MetricSpec
from metricspec.stats.summary import VariantSummary

__all__ = ["batch_prepare"]

Array = npt.NDArray[np.float64]
_POOLED = "pooled OLS slope Cov(y,c)/Var(c) over both arms"
_DELTA = "Σ_v Cov(f,g) / Σ_v Var(g) by the delta method over both arms"


@dataclass(frozen=True, slots=True)
class _Shape:
    """Where a metric's numbers live: base metric, sum keys and product keys."""

    base: str
    ratio: bool
    cuped: bool
    sums: tuple[str, ...]  # x, y, c, d ("" when absent: never a key)
    products: tuple[tuple[str, str], ...]  # xx yy xy cc dd cd xc xd yc yd (("", "") absent)


def _shape(spec: MetricSpec) -> _Shape | None:
    if "batch_shape" not in spec.memo:
        spec.memo["batch_shape"] = _find_shape(spec)
    shape = spec.memo["batch_shape"]
    return shape if isinstance(shape, _Shape) else None


def _find_shape(spec: MetricSpec) -> _Shape | None:
    f = spec.formula
    if spec.kind not in (MetricKind.MEAN, MetricKind.PROPORTION, MetricKind.RATIO):
        return None
    if type(f) is Component:
        x, y = f.name, None
    elif type(f) is Div and type(f.left) is Component and type(f.right) is Component:
        x, y = f.left.name, f.right.name
    else:
        return None
    cov = spec.cuped or {}
    c, d = cov.get(x), (cov.get(y) if y else None)
    if spec.cuped and (c is None or (y is not None and d is None)):
        return None
    names = [n for n in (x, y, c, d) if n is not None]
    if len({base_metric(n) for n in names}) != 1 or len(set(names)) != len(names):
        return None
    keys = [(x, x), (y, y), (x, y), (c, c), (d, d), (c, d), (x, c), (x, d), (y, c), (y, d)]
    products = tuple(pair(a, b) if a and b else ("", "") for a, b in keys)
    sums = (x, y or "", c or "", d or "")
    return _Shape(base_metric(x), y is not None, c is not None, sums, products)


def _extract(
    shapes: Sequence[_Shape], segment: SegmentData, variants: Sequence[str]
) -> Array | None:
    """Return an array (variants, metrics, 15) of n, sums and products (NaN if absent)."""
    out: list[list[tuple[float | None, ...]]] = []
    nan_row: tuple[float | None, ...] = (None,) * 15
    for v in variants:
        data = segment.variants.get(v)
        if data is None:
            return None
        rows: list[tuple[float | None, ...]] = []
        for sh in shapes:
            m = data.moments.get(sh.base)
            if m is None or m.impossible() is not None:  # the general path says why
                rows.append(nan_row)
                continue
            rows.append((m.n, *map(m.sums.get, sh.sums), *map(m.products.get, sh.products)))
        out.append(rows)
    return np.array(out, dtype=float)


def batch_prepare(
    specs: Sequence[MetricSpec], segment: SegmentData, control: str, treatments: Sequence[str]
) -> dict[str, list[Prepared]]:
    """Return prepared comparisons for every spec the fast path can handle cleanly."""
    chosen = [(s, sh) for s in specs if (sh := _shape(s)) is not None]
    if not chosen:
        return {}
    shapes = [sh for _, sh in chosen]
    raw = _extract(shapes, segment, [control, *treatments])
    if raw is None:
        return {}
    ratio = np.array([sh.ratio for sh in shapes])
    cuped = np.array([sh.cuped for sh in shapes])
    prop = np.array([s.kind is MetricKind.PROPORTION for s, _ in chosen])
    with np.errstate(all="ignore"):
        arms = _arm_stats(raw, ratio, cuped, prop)
        fits = [_fits(arms, raw, t, ratio) for t in range(1, len(treatments) + 1)]
    mask = np.asarray(arms["ok"], dtype=bool).all(axis=0)
    for fit in fits:
        mask &= fit["ok"].astype(bool) | ~cuped
    good: list[bool] = [bool(v) for v in np.atleast_1d(mask)]
    n = raw[..., 0].tolist()
    f, var_f = arms["f"].tolist(), arms["var_f"].tolist()
    cols = [{k: v.tolist() for k, v in fit.items()} for fit in fits]
    out: dict[str, list[Prepared]] = {}
    for j, (spec, sh) in enumerate(chosen):
        if not good[j]:
            continue
        method = method_for(spec)
        rows = []
        plain_c = VariantSummary.plain(n[0][j], f[0][j], var_f[0][j])
        for t_idx, t in enumerate(treatments, start=1):
            nc, nt = n[0][j], n[t_idx][j]
            if sh.cuped:
                c = cols[t_idx - 1]
                sc = VariantSummary(
                    nc, c["value_c"][j], f[0][j], c["hh_c"][j], c["hf_c"][j], c["ff_c"][j]
                )
                st = VariantSummary(
                    nt, c["value_t"][j], f[t_idx][j], c["hh_t"][j], c["hf_t"][j], c["ff_t"][j]
                )
                cf = CupedFit(
                    c["theta"][j],
                    _DELTA if sh.ratio else _POOLED,
                    sc,
                    st,
                    c["reduction"][j],
                    sh.ratio,
                )
                rows.append(finish(spec, segment, control, t, method, sc, st, nc, nt, cf))
            else:
                st = VariantSummary.plain(nt, f[t_idx][j], var_f[t_idx][j])
                rows.append(finish(spec, segment, control, t, method, plain_c, st, nc, nt, None))
        out[spec.name] = rows
    return out


def _arm_stats(
    raw: Array,
    ratio: npt.NDArray[np.bool_],
    cuped: npt.NDArray[np.bool_],
    prop: npt.NDArray[np.bool_],
) -> dict[str, Array]:
    """Return f, g, their per-unit (co)variances and an "ok" mask per (variant, metric)."""
    n = raw[..., 0]
    sx, sy, sc, sd = (raw[..., i] for i in range(1, 5))
    keys = ("xx", "yy", "xy", "cc", "dd", "cd", "xc", "xd", "yc", "yd")
    prod = {k: raw[..., 5 + i] for i, k in enumerate(keys)}
    total = {"x": sx, "y": sy, "c": sc, "d": sd}

    def cov(a: str, b: str) -> Array:
        c = (prod[a + b] - total[a] * total[b] / n) / (n - 1)
        return np.maximum(c, 0.0) if a == b else c

    zero, one = np.zeros_like(n), np.ones_like(n)
    my = np.where(ratio, sy / n, one)
    md = np.where(ratio, sd / n, one)
    mx, mc = sx / n, sc / n
    vxx, vcc, cxc = cov("x", "x"), cov("c", "c"), cov("x", "c")
    vyy, cxy = (np.where(ratio, cov(*k), zero) for k in (("y", "y"), ("x", "y")))
    vdd, ccd, cxd, cyc, cyd = (
        np.where(ratio, cov(*k), zero)
        for k in (("d", "d"), ("c", "d"), ("x", "d"), ("y", "c"), ("y", "d"))
    )
    gx, gy = 1.0 / my, -mx / my**2
    hc, hd = 1.0 / md, -mc / md**2
    f = mx / my
    var_f = gx * gx * vxx + 2 * gx * gy * cxy + gy * gy * vyy
    var_f = np.where(prop & ~cuped, f * (1.0 - f), np.maximum(var_f, 0.0))
    var_g = hc * hc * vcc + 2 * hc * hd * ccd + hd * hd * vdd
    cov_fg = gx * hc * cxc + gx * hd * cxd + gy * hc * cyc + gy * hd * cyd
    g = np.where(cuped, mc / md, zero)
    var_g, cov_fg = np.where(cuped, var_g, zero), np.where(cuped, cov_fg, zero)
    ok = (n >= 2) & np.isfinite(f) & np.isfinite(var_f) & (my != 0)
    ok &= np.isfinite(g) & np.isfinite(var_g) & np.isfinite(cov_fg) & ~(cuped & (md == 0))
    ok &= ~prop | cuped | ((f >= 0) & (f <= 1))
    return {"f": f, "var_f": var_f, "g": g, "var_g": var_g, "cov_fg": cov_fg, "ok": ok}


def _fits(
    arms: dict[str, Array], raw: Array, t: int, ratio: npt.NDArray[np.bool_]
) -> dict[str, Array]:
    """Return CUPED θ and adjusted arm summaries of control (0) against treatment ``t``.

    Same arithmetic as `cuped.cuped_fit`: θ pooled OLS for means, Σ Cov / Σ Var for ratios.
    """
    pooled = raw[0] + raw[t]
    n = pooled[:, 0]
    sx, sc, sd, pxx, pcc, pxc = (pooled[:, i] for i in (1, 3, 4, 5, 8, 11))
    c_xc = (pxc - sx * sc / n) / (n - 1)
    var_c = (pcc - sc * sc / n) / (n - 1)
    var_x = (pxx - sx * sx / n) / (n - 1)
    theta_mean = np.where((var_c > 0) & (var_x > 0), c_xc / var_c, 0.0)
    den = arms["var_g"][0] + arms["var_g"][t]
    theta_ratio = np.where(den > 0, (arms["cov_fg"][0] + arms["cov_fg"][t]) / den, 0.0)
    theta = np.where(ratio, theta_ratio, theta_mean)
    centre = np.where(ratio, (sc / n) / (sd / n), sc / n)
    out = {"theta": theta}
    var_adj = var_raw = np.zeros_like(n)
    for k, side in ((0, "c"), (t, "t")):
        var_f, cov_fg, var_g = arms["var_f"][k], arms["cov_fg"][k], arms["var_g"][k]
        ff = np.maximum(var_f, 0.0)
        hh = np.maximum(var_f - 2.0 * theta * cov_fg + theta * theta * var_g, 0.0)
        out[f"ff_{side}"], out[f"hh_{side}"] = ff, hh
        out[f"hf_{side}"] = var_f - theta * cov_fg
        out[f"value_{side}"] = arms["f"][k] - theta * (arms["g"][k] - centre)
        var_adj = var_adj + hh / raw[k, :, 0]
        var_raw = var_raw + ff / raw[k, :, 0]
    out["reduction"] = np.where(var_raw > 0, 1.0 - var_adj / var_raw, 0.0)
    out["ok"] = np.logical_and.reduce([np.isfinite(v) for v in out.values()]).astype(float)
    return out
