"""Read the long format of sufficient statistics the emitted SQL produces.

One row per (segment, segment_value, variant, metric); see docs/sufficient-statistics.md.
Readers accept an iterable of row mappings, a CSV file or a Parquet file (PyArrow). A bad
file raises `LongFormatError` (a `ValueError`) naming the row and column.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from metricspec.stats.data import OVERALL, ExperimentData, SegmentData, VariantData
from metricspec.stats.moments import Moments, QuantileMoments, pair
from metricspec.stats.validate import Problem, moments_problem, quantile_problem

__all__ = ["COLUMNS", "LongFormatError", "read_csv", "read_parquet", "read_rows"]

KEYS = ("experiment", "segment", "segment_value", "variant", "metric", "metric_2", "n")
SUMS = {"x": "sum_x", "y": "sum_y", "c": "sum_c", "d": "sum_d"}
PRODUCTS = {
    ("x", "x"): "sum_x2",
    ("y", "y"): "sum_y2",
    ("x", "y"): "sum_xy",
    ("c", "c"): "sum_c2",
    ("x", "c"): "sum_xc",
    ("d", "d"): "sum_d2",
    ("c", "d"): "sum_cd",
    ("x", "d"): "sum_xd",
    ("y", "c"): "sum_yc",
    ("y", "d"): "sum_yd",
}
CROSS = {
    ("x", "x"): "cross_xx",
    ("x", "y"): "cross_xy",
    ("y", "x"): "cross_yx",
    ("y", "y"): "cross_yy",
}
QUANTILE = ("q", "q_lower", "q_upper", "q_n_star")
COLUMNS: tuple[str, ...] = (
    *KEYS,
    "sum_x",
    "sum_x2",
    "sum_y",
    "sum_y2",
    "sum_xy",
    "sum_c",
    "sum_c2",
    "sum_xc",
    "sum_d",
    "sum_d2",
    "sum_cd",
    "sum_xd",
    "sum_yc",
    "sum_yd",
    *CROSS.values(),
    *QUANTILE,
)
"""Every column of the long format, in order."""
REQUIRED = ("segment", "segment_value", "variant", "metric", "n")
UNITS, MULTIPLE = "__units__", "__multiple__"
_NULLS = {"", "null", "none", "\\n"}


class LongFormatError(ValueError):
    """A long-format file or row is malformed; ``row`` is 1-based, ``column`` may be None."""

    def __init__(
        self,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        source: str = "rows",
    ) -> None:
        where = source + (f", row {row}" if row is not None else "")
        where += f", column {column!r}" if column else ""
        super().__init__(f"{where}: {message}")
        self.row, self.column, self.source = row, column, source


class _Reader:
    def __init__(self, source: str, experiment: str | None) -> None:
        self.source, self.experiment = source, experiment
        self.seen_experiment: str | None = None
        self.cells: dict[tuple[str, str | None], dict[str, dict[str, Any]]] = {}
        self.keys: set[tuple[str, ...]] = set()
        self.multiple: int | None = None
        # cross rows are checked against their two metrics' own rows once all are read
        self.pending: list[tuple[int, str, tuple[str, str | None, str], str, str, dict[Any, str]]]
        self.pending = []

    def where(self, segment: str, value: str | None, variant: str, metric: str) -> str:
        seg = "" if value is None else f"segment {segment}={value!r}, "
        return f"impossible statistics for {seg}variant {variant!r}, metric {metric!r}"

    def err(self, msg: str, row: int, column: str | None = None) -> LongFormatError:
        return LongFormatError(msg, row=row, column=column, source=self.source)

    def text(self, rec: Mapping[str, Any], col: str, row: int) -> str | None:
        v = rec.get(col)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        s = str(v).strip()
        return None if s.lower() in _NULLS else s

    def num(self, rec: Mapping[str, Any], col: str, row: int) -> float | None:
        v = rec.get(col)
        if v is None or (isinstance(v, str) and v.strip().lower() in _NULLS):
            return None
        if isinstance(v, bool):
            raise self.err(f"expected a number, got {v!r}", row, col)
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise self.err(f"expected a number, got {v!r}", row, col) from None
        if not math.isfinite(x):
            raise self.err(f"value must be finite, got {v!r}", row, col)
        return x

    def count(self, rec: Mapping[str, Any], col: str, row: int) -> int:
        x = self.num(rec, col, row)
        if x is None:
            raise self.err("is empty", row, col)
        if x < 0 or x != int(x):
            raise self.err(f"must be a non-negative integer, got {x:g}", row, col)
        return int(x)

    def add(self, rec: Mapping[str, Any], row: int) -> None:
        if row == 1:
            missing = [c for c in REQUIRED if c not in rec]
            if missing:
                raise self.err(f"missing column(s) {', '.join(missing)}", row)
        exp = self.text(rec, "experiment", row)
        if self.experiment is not None and exp is not None and exp != self.experiment:
            return
        if self.experiment is None and exp is not None:
            if self.seen_experiment not in (None, exp):
                raise self.err(
                    f"several experiments ({self.seen_experiment!r}, {exp!r}); pass experiment=...",
                    row,
                    "experiment",
                )
            self.seen_experiment = exp
        segment = self.text(rec, "segment", row)
        value = self.text(rec, "segment_value", row)
        variant = self.text(rec, "variant", row)
        metric = self.text(rec, "metric", row)
        for col, v in (("segment", segment), ("variant", variant), ("metric", metric)):
            if v is None:
                raise self.err("is empty", row, col)
        assert segment is not None and variant is not None and metric is not None
        if segment == OVERALL:
            value = None
        elif value is None:
            raise self.err(f"segment {segment!r} needs a segment_value", row, "segment_value")
        metric_2 = self.text(rec, "metric_2", row)
        key = (segment, value or "", variant, metric, metric_2 or "")
        if key in self.keys:
            raise self.err(f"duplicate row for {key[:4]}", row)
        self.keys.add(key)
        n = self.count(rec, "n", row)
        if metric == UNITS:
            if variant == MULTIPLE:
                self.multiple = (self.multiple or 0) + n
            else:
                self._cell(segment, value, variant)["units"] = n
            return
        cell = self._cell(segment, value, variant)
        where = self.where(segment, value, variant, metric)
        if metric_2 is not None:
            products: dict[tuple[str, str], float] = {}
            columns: dict[tuple[str, ...], str] = {}
            for (a, b), col in CROSS.items():
                x = self.num(rec, col, row)
                if x is not None:
                    pkey = pair(f"{metric}.{a}", f"{metric_2}.{b}")
                    products[pkey], columns[pkey] = x, col
            a_, b_ = sorted((metric, metric_2))
            cell["cross"][(a_, b_)] = Moments(n, {}, products)
            self.pending.append(
                (row, f"{where} × {metric_2!r}", (segment, value, variant), a_, b_, columns)
            )
        elif self.num(rec, "q", row) is not None:
            cell["quantiles"][metric] = self._quantile(rec, row, n, where)
        else:
            cell["moments"][metric] = self._moments(rec, row, n, metric, where)

    def _cell(self, segment: str, value: str | None, variant: str) -> dict[str, Any]:
        variants = self.cells.setdefault((segment, value), {})
        return variants.setdefault(
            variant, {"moments": {}, "cross": {}, "quantiles": {}, "units": None}
        )

    def _moments(
        self, rec: Mapping[str, Any], row: int, n: int, metric: str, where: str
    ) -> Moments:
        sums: dict[str, float] = {}
        columns: dict[tuple[str, ...], str] = {}
        for part, col in SUMS.items():
            x = self.num(rec, col, row)
            if x is not None:
                sums[f"{metric}.{part}"] = x
                columns[(f"{metric}.{part}",)] = col
        if f"{metric}.x" not in sums:
            raise self.err(f"metric {metric!r} has no sum_x", row, "sum_x")
        products = {}
        for (a, b), col in PRODUCTS.items():
            x = self.num(rec, col, row)
            if x is not None:
                if a == b and x < 0:
                    raise self.err("a sum of squares cannot be negative", row, col)
                key = pair(f"{metric}.{a}", f"{metric}.{b}")
                products[key], columns[key] = x, col
        self.check(moments_problem(n, sums, products), columns, where, row)
        return Moments(n, sums, products)

    def check(
        self, problem: Problem | None, columns: Mapping[Any, str], where: str, row: int
    ) -> None:
        """Raise the error for an impossible sum or product, naming its column."""
        if problem is not None:
            key, message = problem
            raise self.err(f"{where}: {message}", row, columns.get(key))

    def _quantile(self, rec: Mapping[str, Any], row: int, n: int, where: str) -> QuantileMoments:
        vals = {
            c: self.num(rec, c, row)
            for c in (*QUANTILE, "sum_x", "sum_x2", "sum_y", "sum_y2", "sum_xy")
        }
        for c in ("q_lower", "q_upper", "q_n_star", "sum_y"):
            if vals[c] is None:
                raise self.err("is empty on a quantile row", row, c)
        q, lower, upper, n_star, events = (
            vals[c] or 0.0 for c in ("q", "q_lower", "q_upper", "q_n_star", "sum_y")
        )
        found = quantile_problem(n, q, lower, upper, n_star, events, vals["sum_x"])
        if found is not None:
            raise self.err(f"{where}: {found[1]}", row, found[0])
        sums = {"below": vals["sum_x"], "events": vals["sum_y"]}
        prods = {
            ("below", "below"): vals["sum_x2"],
            ("events", "events"): vals["sum_y2"],
            ("below", "events"): vals["sum_xy"],
        }
        columns = {
            ("below",): "sum_x",
            ("events",): "sum_y",
            ("below", "below"): "sum_x2",
            ("events", "events"): "sum_y2",
            ("below", "events"): "sum_xy",
        }
        self.check(
            moments_problem(
                n,
                {k: v for k, v in sums.items() if v is not None},
                {k: v for k, v in prods.items() if v is not None},
            ),
            columns,
            where,
            row,
        )
        return QuantileMoments(
            n_units=n,
            quantile=vals["q"] or 0.0,
            quantile_lower=vals["q_lower"] or 0.0,
            quantile_upper=vals["q_upper"] or 0.0,
            n_star=vals["q_n_star"] or 0.0,
            sum_events=vals["sum_y"] or 0.0,
            sum_events2=vals["sum_y2"],
            sum_below=vals["sum_x"],
            sum_below2=vals["sum_x2"],
            sum_below_events=vals["sum_xy"],
        )

    def check_cross(self) -> None:
        """Check each cross row against the sums and squares of its two metrics' rows."""
        for row, where, (segment, value, variant), a, b, columns in self.pending:
            cell = self.cells[(segment, value)][variant]
            cross = cell["cross"][(a, b)]
            own = [cell["moments"].get(a), cell["moments"].get(b)]
            if any(m is None or m.n != cross.n for m in own):
                continue  # the analysis reports the mismatch as insufficient data
            sums = {**own[0].sums, **own[1].sums}
            products = {**own[0].products, **own[1].products, **cross.products}
            problem = moments_problem(cross.n, sums, products, only=list(cross.products))
            self.check(problem, columns, where, row)

    def result(self) -> ExperimentData:
        self.check_cross()
        segments = []
        for (segment, value), variants in self.cells.items():
            built = {
                v: VariantData(c["moments"], c["cross"], c["quantiles"], c["units"])
                for v, c in variants.items()
            }
            segments.append(SegmentData(segment, value, built))
        segments.sort(key=lambda s: (not s.is_overall, s.segment, s.value or ""))
        return ExperimentData(
            tuple(segments), self.multiple, self.experiment or self.seen_experiment
        )


def read_rows(
    rows: Iterable[Mapping[str, Any]], *, experiment: str | None = None, source: str = "rows"
) -> ExperimentData:
    """Read long-format rows (mappings from column name to value; None or "" is NULL).

    Raises:
        LongFormatError: A row is malformed (the message names the row and column).
    """
    reader = _Reader(source, experiment)
    for i, rec in enumerate(rows, start=1):
        reader.add(rec, i)
    return reader.result()


def read_csv(path: str | Path, *, experiment: str | None = None) -> ExperimentData:
    """Read a long-format CSV file with a header row; rows are numbered from the header."""
    with open(path, newline="", encoding="utf-8-sig") as fh:  # tolerate a byte-order mark
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise LongFormatError(
                f"missing column(s) {', '.join(missing)}", row=1, source=str(path)
            )
        return read_rows(reader, experiment=experiment, source=str(path))


def read_parquet(path: str | Path, *, experiment: str | None = None) -> ExperimentData:
    """Read a long-format Parquet file (needs PyArrow)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError("reading Parquet needs pyarrow (metricspec[parquet])") from exc
    try:
        table = pq.read_table(str(path))
    except Exception as exc:
        raise LongFormatError(f"not a readable Parquet file ({exc})", source=str(path)) from exc
    return read_rows(table.to_pylist(), experiment=experiment, source=str(path))
