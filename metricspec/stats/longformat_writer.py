"""Write sufficient statistics in the long format (the inverse of `longformat`).

Used for round trips, fixtures and exporting statistics built in Python; the production
path is SQL emitting the same columns.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from metricspec.stats.data import ExperimentData, SegmentData
from metricspec.stats.longformat import COLUMNS, CROSS, MULTIPLE, PRODUCTS, SUMS, UNITS

__all__ = ["to_rows", "write_csv", "write_parquet"]


def to_rows(data: ExperimentData, experiment: str | None = None) -> list[dict[str, Any]]:
    """Return ``data`` as long-format rows (every column present, None for NULL)."""
    name = experiment or data.experiment or ""
    out: list[dict[str, Any]] = []

    def row(seg: SegmentData, variant: str, metric: str, n: int, **cols: Any) -> None:
        rec: dict[str, Any] = dict.fromkeys(COLUMNS)
        rec.update(
            experiment=name,
            segment=seg.segment,
            segment_value=seg.value,
            variant=variant,
            metric=metric,
            n=n,
            **cols,
        )
        out.append(rec)

    for seg in data.segments:
        for variant, vd in seg.variants.items():
            if vd.units is not None:
                row(seg, variant, UNITS, vd.units)
            for metric, m in vd.moments.items():
                cols: dict[str, Any] = {col: m.sums.get(f"{metric}.{p}") for p, col in SUMS.items()}
                cols.update(
                    {
                        col: m.product(f"{metric}.{a}", f"{metric}.{b}")
                        for (a, b), col in PRODUCTS.items()
                    }
                )
                row(seg, variant, metric, m.n, **cols)
            for (a, b), m in vd.cross.items():
                cols = {col: m.product(f"{a}.{p}", f"{b}.{q}") for (p, q), col in CROSS.items()}
                row(seg, variant, a, m.n, metric_2=b, **cols)
            for metric, q in vd.quantiles.items():
                row(
                    seg,
                    variant,
                    metric,
                    q.n_units,
                    q=q.quantile,
                    q_lower=q.quantile_lower,
                    q_upper=q.quantile_upper,
                    q_n_star=q.n_star,
                    sum_x=q.sum_below,
                    sum_x2=q.sum_below2,
                    sum_y=q.sum_events,
                    sum_y2=q.sum_events2,
                    sum_xy=q.sum_below_events,
                )
    if data.excluded_multiple is not None:
        overall = next((s for s in data.segments if s.is_overall), None)
        if overall is not None:
            row(overall, MULTIPLE, UNITS, data.excluded_multiple)
    return out


def write_csv(data: ExperimentData, path: str | Path, experiment: str | None = None) -> None:
    """Write ``data`` as a long-format CSV file (NULL as an empty field)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for rec in to_rows(data, experiment):
            writer.writerow(
                {
                    k: ("" if v is None else repr(v) if isinstance(v, float) else v)
                    for k, v in rec.items()
                }
            )


def write_parquet(data: ExperimentData, path: str | Path, experiment: str | None = None) -> None:
    """Write ``data`` as a long-format Parquet file (needs PyArrow)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = to_rows(data, experiment)
    text = {"experiment", "segment", "segment_value", "variant", "metric", "metric_2"}
    schema = pa.schema(
        [
            (c, pa.string() if c in text else pa.int64() if c == "n" else pa.float64())
            for c in COLUMNS
        ]
    )
    table = pa.Table.from_pylist(
        [
            {
                c: (float(v) if v is not None and c not in text and c != "n" else v)
                for c, v in r.items()
            }
            for r in rows
        ],
        schema=schema,
    )
    pq.write_table(table, str(path))
