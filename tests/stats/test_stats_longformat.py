"""The long-format reader and writer: round trips, the documented example, clear errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from metricspec.stats import (
    COLUMNS,
    Component,
    ExperimentConfig,
    ExperimentData,
    LongFormatError,
    MetricKind,
    MetricSpec,
    Moments,
    QuantileMoments,
    SegmentData,
    VariantData,
    analyze,
    read_csv,
    read_parquet,
    read_rows,
    to_rows,
    write_csv,
    write_parquet,
)

CONFIG = ExperimentConfig(control="control", variants={"control": 1, "treatment": 1})

EXAMPLE = """\
experiment,segment,segment_value,variant,metric,metric_2,n,sum_x,sum_x2,sum_y,sum_y2,sum_xy,sum_c,sum_c2,sum_xc,sum_d,sum_d2,sum_cd,sum_xd,sum_yc,sum_yd,cross_xx,cross_xy,cross_yx,cross_yy,q,q_lower,q_upper,q_n_star
summarizer_v2,all,,control,__units__,,1000,,,,,,,,,,,,,,,,,,,,,,
summarizer_v2,all,,treatment,__units__,,1010,,,,,,,,,,,,,,,,,,,,,,
summarizer_v2,all,,__multiple__,__units__,,7,,,,,,,,,,,,,,,,,,,,,,
summarizer_v2,all,,control,csat,,1000,812,1466,1950,4410,1600,790,1400,1150,1900,4200,1520,1580,1560,3950,,,,,,,,
summarizer_v2,all,,treatment,csat,,1010,860,1560,1975,4460,1690,801,1420,1190,1925,4260,1545,1610,1590,4010,,,,,,,,
summarizer_v2,all,,control,retry_rate,,1000,240,410,1950,4410,470,,,,,,,,,,,,,,,,,
summarizer_v2,all,,treatment,retry_rate,,1010,230,395,1975,4460,455,,,,,,,,,,,,,,,,,
summarizer_v2,all,,control,csat,retry_rate,1000,,,,,,,,,,,,,,,190,1600,466,4410,,,,
summarizer_v2,all,,treatment,csat,retry_rate,1010,,,,,,,,,,,,,,,186,1690,470,4460,,,,
summarizer_v2,all,,control,latency_p95,,1000,4600,30100,4900,31000,30400,,,,,,,,,,,,,,2150.0,2080.0,2230.0,3200
summarizer_v2,all,,treatment,latency_p95,,1010,4650,30400,4950,31300,30700,,,,,,,,,,,,,,2090.0,2020.0,2160.0,3200
summarizer_v2,channel,chat,control,csat,,600,500,900,1180,2660,980,,,,,,,,,,,,,,,,,
summarizer_v2,channel,chat,treatment,csat,,590,510,930,1150,2600,1000,,,,,,,,,,,,,,,,,
"""


def _example(tmp_path: Path) -> Path:
    path = tmp_path / "stats.csv"
    path.write_text(EXAMPLE)
    return path


def test_columns_are_the_documented_ones() -> None:
    assert COLUMNS[:7] == (
        "experiment",
        "segment",
        "segment_value",
        "variant",
        "metric",
        "metric_2",
        "n",
    )
    assert len(COLUMNS) == 29 and COLUMNS[-4:] == ("q", "q_lower", "q_upper", "q_n_star")


def test_documented_example_reads(tmp_path: Path) -> None:
    data = read_csv(_example(tmp_path))
    assert data.experiment == "summarizer_v2"
    assert data.excluded_multiple == 7
    assert [(s.segment, s.value) for s in data.segments] == [("all", None), ("channel", "chat")]
    ctrl = data.overall.variants["control"]
    assert ctrl.units == 1000
    csat = ctrl.moments["csat"]
    assert csat.n == 1000 and csat.sums["csat.x"] == 812 and csat.sums["csat.d"] == 1900
    assert csat.product("csat.y", "csat.x") == 1600
    assert csat.product("csat.d", "csat.x") == 1580  # sum_xd
    assert ctrl.cross[("csat", "retry_rate")].product("retry_rate.x", "csat.y") == 466
    q = ctrl.quantiles["latency_p95"]
    assert (q.n_units, q.n_events, q.n_star, q.quantile) == (1000, 4900, 3200, 2150.0)
    assert not q.one_event_per_unit


def test_documented_example_analyses(tmp_path: Path) -> None:
    data = read_csv(_example(tmp_path))
    csat = Component("csat.x") / Component("csat.y")
    retry = Component("retry_rate.x") / Component("retry_rate.y")
    metrics = [
        MetricSpec("csat", MetricKind.RATIO, cuped={"csat.x": "csat.c", "csat.y": "csat.d"}),
        MetricSpec("trust", MetricKind.DERIVED, formula=0.6 * csat + 0.4 * (1 - retry)),
        MetricSpec("latency_p95", MetricKind.QUANTILE, quantile_level=0.95),
    ]
    result = analyze(CONFIG, metrics, data)
    assert result.srm.observed == {"control": 1000, "treatment": 1010}
    assert result.srm.excluded_multiple == 7
    for name in ("csat", "trust", "latency_p95"):
        r = result.metric(name)
        assert r.reason is None, (name, r.reason)
        assert r.p_value is not None and 0 <= r.p_value <= 1
    seg = result.metric("csat", segment="channel", segment_value="chat")
    assert seg.exploratory
    # the segment rows have no CUPED columns: an explicit reason, not a crash
    assert seg.reason is not None and "csat.c" in seg.reason


def _sample_data() -> ExperimentData:
    def arm(shift: float) -> VariantData:
        m = Moments.from_units({"a.x": [1.0, 2.0 + shift, 4.0, 3.5], "a.c": [1.0, 2.0, 3.0, 3.0]})
        r = Moments.from_units({"b.x": [1.0, 0.0, 1.0, 1.0], "b.y": [2.0, 1.0, 3.0, 2.0]})
        cross = Moments(4, {}, {("a.x", "b.x"): 7.5 + shift, ("a.x", "b.y"): 19.0})
        q = QuantileMoments(4, 3.0, 2.0, 4.0, 6.25, 10.0, 30.0, 6.0, 12.0, 18.0)
        return VariantData({"a": m, "b": r}, {("a", "b"): cross}, {"lat": q}, units=4)

    overall = SegmentData("all", None, {"control": arm(0.0), "treatment": arm(0.25)})
    seg = SegmentData("country", "FR", {"control": arm(0.5), "treatment": arm(1 / 3)})
    return ExperimentData((overall, seg), excluded_multiple=3, experiment="exp1")


def _assert_same(a: ExperimentData, b: ExperimentData) -> None:
    assert a.excluded_multiple == b.excluded_multiple and a.experiment == b.experiment
    assert [(s.segment, s.value) for s in a.segments] == [(s.segment, s.value) for s in b.segments]
    for sa, sb in zip(a.segments, b.segments, strict=True):
        assert sa.variants.keys() == sb.variants.keys()
        for v in sa.variants:
            va, vb = sa.variants[v], sb.variants[v]
            assert va.units == vb.units
            assert va.quantiles == vb.quantiles
            for name in va.moments:
                assert va.moments[name].sums == vb.moments[name].sums
                assert va.moments[name].products == vb.moments[name].products
            assert {k: m.products for k, m in va.cross.items()} == {
                k: m.products for k, m in vb.cross.items()
            }


def test_csv_round_trip(tmp_path: Path) -> None:
    data = _sample_data()
    write_csv(data, tmp_path / "s.csv")
    _assert_same(data, read_csv(tmp_path / "s.csv"))


def test_parquet_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    data = _sample_data()
    write_parquet(data, tmp_path / "s.parquet")
    back = read_parquet(tmp_path / "s.parquet")
    _assert_same(data, back)
    metrics = [MetricSpec("a", cuped={"a.x": "a.c"}), MetricSpec("b", MetricKind.RATIO)]
    assert analyze(CONFIG, metrics, data).to_dict() == analyze(CONFIG, metrics, back).to_dict()


def test_rows_round_trip_and_filter() -> None:
    rows = to_rows(_sample_data())
    assert all(set(r) == set(COLUMNS) for r in rows)
    other = [dict(r, experiment="exp2") for r in rows]
    data = read_rows(rows + other, experiment="exp1")
    _assert_same(_sample_data(), data)
    with pytest.raises(LongFormatError, match="several experiments"):
        read_rows(rows + other)


def _rows() -> list[dict[str, object]]:
    return [dict(r) for r in to_rows(_sample_data())]


@pytest.mark.parametrize(
    ("edit", "row", "column", "message"),
    [
        (lambda r: r[2].update(sum_x="abc"), 3, "sum_x", "expected a number"),
        (lambda r: r[2].update(sum_x="inf"), 3, "sum_x", "finite"),
        (lambda r: r[1].update(n=-4), 2, "n", "non-negative integer"),
        (lambda r: r[1].update(n=2.5), 2, "n", "non-negative integer"),
        (lambda r: r[1].update(n=None), 2, "n", "empty"),
        (lambda r: r[2].update(sum_x=None), 3, "sum_x", "no sum_x"),
        (lambda r: r[2].update(sum_x2=-1.0), 3, "sum_x2", "cannot be negative"),
        (lambda r: r[4].update(metric=None), 5, "metric", "empty"),
        (lambda r: r.append(dict(r[1])), 22, None, "duplicate"),
        (lambda r: r[-2].update(segment_value=None), 20, "segment_value", "needs a segment_value"),
        (lambda r: r[2].update(sum_x=True), 3, "sum_x", "expected a number"),
    ],
)
def test_bad_rows_name_row_and_column(edit, row: int, column: str | None, message: str) -> None:
    rows = _rows()
    edit(rows)
    with pytest.raises(LongFormatError, match=message) as info:
        read_rows(rows)
    assert isinstance(info.value, ValueError)
    assert info.value.row == row and info.value.column == column
    assert f"row {row}" in str(info.value)


def test_quantile_row_needs_its_columns() -> None:
    rows = _rows()
    qrow = next(i for i, r in enumerate(rows) if r["q"] is not None)
    rows[qrow]["q_upper"] = None
    with pytest.raises(LongFormatError, match="quantile row") as info:
        read_rows(rows)
    assert info.value.column == "q_upper" and info.value.row == qrow + 1


def test_csv_missing_column_and_bad_parquet(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("segment,variant,metric,n\nall,control,a,3\n")
    with pytest.raises(LongFormatError, match="segment_value") as info:
        read_csv(path)
    assert str(path) in str(info.value)
    pytest.importorskip("pyarrow")
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(LongFormatError, match="Parquet"):
        read_parquet(junk)


def test_csv_values_keep_full_precision(tmp_path: Path) -> None:
    data = ExperimentData.single(
        {"control": VariantData({"a": Moments(3, {"a.x": 0.1 + 0.2}, {("a.x", "a.x"): math.pi})})}
    )
    write_csv(data, tmp_path / "p.csv")
    back = read_csv(tmp_path / "p.csv").overall.variants["control"].moments["a"]
    assert back.sums["a.x"] == 0.1 + 0.2 and back.products[("a.x", "a.x")] == math.pi


DOC = Path(__file__).resolve().parents[2] / "docs" / "sufficient-statistics.md"


def _blocks(kind: str) -> list[str]:
    text = DOC.read_text()
    return [b.split("```", 1)[0] for b in text.split(f"```{kind}\n")[1:]]


def test_docs_examples_are_the_tested_ones(tmp_path: Path) -> None:
    small, full = _blocks("csv")
    assert full == EXAMPLE
    path = tmp_path / "small.csv"
    path.write_text(small)
    m = read_csv(path).overall.variants["control"].moments["csat"]
    expected = Moments.from_units(
        {"csat.x": [2, 0, 1], "csat.y": [3, 1, 1], "csat.c": [1, 0, 2], "csat.d": [2, 0, 3]}
    )
    assert m.sums == expected.sums and m.products == expected.products


def test_docs_python_snippet_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (code,) = _blocks("python")
    (tmp_path / "stats.csv").write_text(EXAMPLE)
    exec(code.replace('"stats.csv"', repr(str(tmp_path / "stats.csv"))), {})
    out = capsys.readouterr().out
    assert "inconclusive" in out and "adjusted p = 0.555" in out and out.startswith("0.82")


def test_csv_with_byte_order_mark_and_decimal_like_values(tmp_path: Path) -> None:
    from decimal import Decimal

    path = tmp_path / "bom.csv"
    path.write_text("\ufeff" + EXAMPLE, encoding="utf-8")
    assert read_csv(path).overall.variants["control"].units == 1000
    rows = [dict(r, n=Decimal(r["n"]) if r["n"] is not None else None) for r in _rows()]
    assert read_rows(rows).overall.variants["control"].units == 4
