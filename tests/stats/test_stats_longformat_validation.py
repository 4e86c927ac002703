"""Impossible sufficient statistics are refused with a message naming the row (variant,
metric, column) — a negative variance, a correlation beyond ±1, quantile fields that
contradict each other — while true rounding error is tolerated (and clamped)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from metricspec.stats import (
    ExperimentConfig,
    ExperimentData,
    LongFormatError,
    MetricKind,
    MetricSpec,
    Moments,
    QuantileMoments,
    VariantData,
    Verdict,
    analyze,
    read_csv,
    read_rows,
)
from metricspec.stats.longformat import COLUMNS
from metricspec.stats.validate import expected_n_star

TWO = ExperimentConfig("control", {"control": 1, "treatment": 1})


def row(variant: str, metric: str, n: float, **cols: float | str | None) -> dict[str, object]:
    out: dict[str, object] = {c: None for c in COLUMNS}
    out.update(experiment="e", segment="all", variant=variant, metric=metric, n=n)
    out.update(cols)
    return out


def good_rows() -> list[dict[str, object]]:
    # x = [1, 2, 3, 4], y = [1, 1, 2, 2]; second metric z = [2, 0, 1, 1]
    rows = []
    for v in ("control", "treatment"):
        rows += [
            row(v, "__units__", 4),
            row(v, "r", 4, sum_x=10, sum_x2=30, sum_y=6, sum_y2=10, sum_xy=17),
            row(v, "z", 4, sum_x=4, sum_x2=6),
            row(v, "r", 4, metric_2="z", cross_xx=9, cross_yx=6),
            row(
                v,
                "lat",
                500,
                q=10.0,
                q_lower=9.0,
                q_upper=11.0,
                q_n_star=400,
                sum_y=500,
                sum_y2=500,
                sum_x=475,
                sum_x2=475,
                sum_xy=475,
            ),
        ]
    return rows


def refused(rows: list[dict[str, object]], index: int, column: str | None, *words: str) -> None:
    with pytest.raises(LongFormatError) as info:
        read_rows(rows, experiment="e")
    text = str(info.value)
    assert info.value.row == index + 1, text
    assert info.value.column == column, text
    for w in (f"row {index + 1}", *words):
        assert w in text, text


def test_good_rows_read() -> None:
    data = read_rows(good_rows(), experiment="e")
    assert data.overall is not None


@pytest.mark.parametrize(
    ("edit", "column", "words"),
    [
        ({"sum_x2": 20.0}, "sum_x2", ("negative variance", "'control'", "'r'")),  # 20 < 100/4
        ({"sum_y2": 8.0}, "sum_y2", ("negative variance",)),  # 8 < 36/4
        ({"sum_xy": 30.0}, "sum_xy", ("Cauchy", "correlation")),  # cov 15 > sd·sd
        ({"sum_xy": 5.0}, "sum_xy", ("Cauchy",)),  # cov −10 < −sd·sd
    ],
)
def test_impossible_moments_row(
    edit: dict[str, float], column: str, words: tuple[str, ...]
) -> None:
    rows = good_rows()
    rows[1].update(edit)
    refused(rows, 1, column, *words)


def test_impossible_cross_row_is_checked_against_both_metrics() -> None:
    rows = good_rows()
    rows[3].update(cross_xx=40.0)  # Σ(x−x̄)(z−z̄) = 30 > sqrt(5·2)
    refused(rows, 3, "cross_xx", "Cauchy", "'r'", "'z'")


def test_cross_row_before_its_metric_rows_is_checked_too() -> None:
    rows = good_rows()
    rows[3].update(cross_yx=99.0)
    rows.insert(1, rows.pop(3))  # the cross row now comes first
    refused(rows, 1, "cross_yx", "Cauchy")


def test_treatment_row_is_named() -> None:
    rows = good_rows()
    rows[6].update(sum_x2=1.0)
    refused(rows, 6, "sum_x2", "'treatment'", "'r'")


@pytest.mark.parametrize(
    ("n", "edit", "column", "word"),
    [
        (0, {"sum_x": 3.0, "sum_x2": 9.0}, "sum_x", "n = 0"),
        (1, {"sum_x": 3.0, "sum_x2": 10.0}, "sum_x2", "n = 1"),
    ],
)
def test_tiny_n_must_match_its_sums(n: int, edit: dict[str, float], column: str, word: str) -> None:
    rows = [row("control", "m", n, **edit)]
    refused(rows, 0, column, word)


def test_rounding_error_is_tolerated_and_clamped() -> None:
    # a constant column: Σx² and (Σx)²/n agree to the last bits only
    n, x = 3, 0.1
    s = x + x + x
    s2 = (s * s / n) * (1 - 1e-13)
    data = read_rows([row("control", "m", n, sum_x=s, sum_x2=s2)])
    m = data.overall.variants["control"].moments["m"]
    assert m.covariance("m.x", "m.x") == 0.0


def test_negative_variance_is_never_a_significant_loss() -> None:
    # the engine refuses impossible moments built directly, too
    good = Moments.from_units({"m.x": [1.0, 2.0, 3.0, 4.0]})
    bad = Moments(4, {"m.x": 4.0}, {("m.x", "m.x"): 1.0})
    data = ExperimentData.single(
        {"control": VariantData({"m": good}), "treatment": VariantData({"m": bad})}
    )
    r = analyze(TWO, [MetricSpec("m")], data).metric("m")
    assert r.verdict is Verdict.INSUFFICIENT and "negative variance" in (r.reason or "")
    assert r.p_value is None


@pytest.mark.parametrize(
    ("edit", "column", "word"),
    [
        ({"q_n_star": 1}, "q_n_star", "n_star"),
        ({"q_n_star": 800}, "q_n_star", "n_star"),
        ({"q_n_star": 2.5}, "q_n_star", "n_star"),
        ({"q_lower": 12.0}, "q_lower", "q_lower"),
        ({"q": 11.5}, "q", "outside"),
        ({"q": 8.0}, "q", "outside"),
        ({"sum_x": 501.0, "sum_x2": 501.0, "sum_xy": 501.0}, "sum_x", "events"),
        ({"sum_y": 499.0, "sum_y2": 499.0, "q_n_star": 400}, "sum_y", "units"),
        ({"sum_xy": 600.0}, "sum_xy", "Cauchy"),
    ],
)
def test_impossible_quantile_row(edit: dict[str, float], column: str, word: str) -> None:
    rows = good_rows()
    rows[4].update(edit)
    refused(rows, 4, column, word)


@pytest.mark.parametrize(
    ("events", "n_star"),
    [
        (500, 400),
        (400, 400),
        (399, 200),
        (100, 100),
        (50, 50),
        (10, 6.25),
        (3, 1.5625),
        (12_800, 12_800),
        (1_000_000, 819_200),
    ],
)
def test_n_star_is_the_documented_grid(events: int, n_star: float) -> None:
    assert expected_n_star(events) == n_star


def test_a_flat_quantile_with_bad_fields_is_refused_not_a_loss() -> None:
    # the example: q_n_star = 1 turned a flat p95 into a "significant loss"
    rows = good_rows()
    rows[9].update(q_n_star=1)
    with pytest.raises(LongFormatError, match="n_star"):
        read_rows(rows, experiment="e")


def test_engine_refuses_inconsistent_quantile_bounds() -> None:
    ok = QuantileMoments(500, 10.0, 9.0, 11.0, 400, 500.0)
    spec = MetricSpec("q", MetricKind.QUANTILE, quantile_level=0.95)
    for bad in (
        QuantileMoments(500, 10.0, 11.0, 9.0, 400, 500.0),
        QuantileMoments(500, 12.0, 9.0, 11.0, 400, 500.0),
        QuantileMoments(500, 10.0, 9.0, 11.0, 1, 500.0),
    ):
        data = ExperimentData.single(
            {
                "control": VariantData(quantiles={"q": ok}),
                "treatment": VariantData(quantiles={"q": bad}),
            }
        )
        r = analyze(TWO, [spec], data).metric("q")
        assert r.verdict is Verdict.INSUFFICIENT and r.p_value is None, r.reason


def test_nan_and_infinite_cells_are_refused(tmp_path: Path) -> None:
    for bad in ("nan", "inf", "-inf"):
        path = tmp_path / "s.csv"
        rows = good_rows()
        rows[1]["sum_x"] = bad
        lines = [",".join(COLUMNS)]
        lines += [",".join("" if r[c] is None else str(r[c]) for c in COLUMNS) for r in rows]
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(LongFormatError, match="finite") as info:
            read_csv(path, experiment="e")
        assert info.value.row == 2 and info.value.column == "sum_x"
    assert math.isfinite(expected_n_star(1))
