"""Experiment queries executed on DuckDB equal an independent pandas computation.

The long-format rows (docs/sufficient-statistics.md) of every example experiment are
recomputed from the raw tables in `sql_reference.experiment_rows`: first exposure in the
window among the declared variants, units seen in two variants dropped and counted, unit
components over [first exposure, window end) filled with 0, CUPED covariates over
[window start − cuped, window start), cross rows of the derived trust score, per-segment
rows, exact percentile rows with gbstats-style bounds, and winsorised cost per query.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
from experiment_reference import ExperimentDef, experiment_def, experiment_rows, exposures
from sql_paths import REPO
from sql_reference import Tables, assert_same_rows

from metricspec.backends import get_backend
from metricspec.pipeline import compile_object
from metricspec.semantic import Index
from metricspec.workspace import Workspace

EXPERIMENTS = ("greeting_aa", "prompt_template_v3", "summarizer_v2", "tone_tuning")

KEYS = ["experiment", "segment", "segment_value", "variant", "metric", "metric_2"]
NUMBERS = ["n", "sum_x", "sum_x2", "sum_y", "sum_y2", "sum_xy", "sum_c", "sum_c2", "sum_xc",
           "sum_d", "sum_d2", "sum_cd", "sum_xd", "sum_yc", "sum_yd", "cross_xx", "cross_xy",
           "cross_yx", "cross_yy", "q", "q_lower", "q_upper", "q_n_star"]
# unit and event counts, and sums of counts, are integers: they must match exactly
COUNTS = ["n", "q_n_star"]


@pytest.fixture(scope="module")
def defs(index: Index) -> dict[str, ExperimentDef]:
    return {name: experiment_def(index, name) for name in EXPERIMENTS}


@pytest.fixture(scope="module")
def long_rows(run_sql) -> dict[str, pd.DataFrame]:
    return {name: run_sql(name) for name in EXPERIMENTS}


@pytest.fixture(scope="module")
def expected_rows(tables: Tables, defs) -> dict[str, pd.DataFrame]:
    return {name: experiment_rows(tables, e) for name, e in defs.items()}


#: Proven elsewhere: checkout_nudge's assignment source and joined, derived segments are
#: outside this reference (it reads `assignments`); its constructs are compared with pandas
#: on every engine in tests/engines/test_joins.py and its analysis in tests/joins/.
ELSEWHERE = {"checkout_nudge"}


def test_every_example_experiment_is_covered(index: Index) -> None:
    assert set(index.experiments) == set(EXPERIMENTS) | ELSEWHERE


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_long_format_equals_pandas(long_rows, expected_rows, name: str) -> None:
    actual, expected = long_rows[name], expected_rows[name]
    assert list(actual.columns) == KEYS + NUMBERS
    for column in NUMBERS:
        if column not in expected:
            expected[column] = float("nan")
    if "metric_2" not in expected:
        expected["metric_2"] = None
    assert_same_rows(actual, expected, KEYS, exact=COUNTS, columns=NUMBERS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_sums_of_counts_are_whole_numbers(long_rows, name: str) -> None:
    """Σ of counts (thumbs-up, conversations, events below the quantile) are exact."""
    rows = long_rows[name]
    for column in ("sum_y", "sum_y2"):
        values = rows[column].dropna()
        assert (values == values.round()).all(), column


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_unit_counts_agree(long_rows, tables: Tables, defs, name: str) -> None:
    """`__units__` n equals pandas' exposed units and every base metric's n (for a
    quantile: the units with at least one event, never more)."""
    rows = long_rows[name]
    units, multiple = exposures(tables, defs[name])
    overall = rows[(rows.segment == "all")]
    counted = overall[overall.metric == "__units__"].set_index("variant").n
    assert counted.pop("__multiple__") == multiple
    assert counted.to_dict() == units.variant.value_counts().to_dict()
    quantiles = {m for m in overall.metric.unique() if m.startswith("latency_")}
    for (segment, value, variant), group in rows.groupby(
            ["segment", "segment_value", "variant"], dropna=False):
        if variant == "__multiple__":
            continue
        total = group[group.metric == "__units__"].n.iloc[0]
        for row in group[group.metric != "__units__"].itertuples():
            if row.metric in quantiles:
                assert 0 < row.n <= total, (segment, value, variant, row.metric)
            else:
                assert row.n == total, (segment, value, variant, row.metric, row.metric_2)


def test_multiple_variant_units_exist_in_the_data(tables: Tables, defs) -> None:
    """The demo data does exercise the exclusion (else the tests above prove little)."""
    for e in defs.values():
        assert exposures(tables, e)[1] > 0, e.name


def test_segments_partition_the_units(long_rows) -> None:
    rows = long_rows["summarizer_v2"]
    units = rows[rows.metric == "__units__"]
    overall = units[units.segment == "all"].set_index("variant").n.drop("__multiple__")
    by_platform = units[units.segment == "platform"].groupby("variant").n.sum()
    assert overall.to_dict() == by_platform.to_dict()
    assert set(units[units.segment == "platform"].segment_value) == {"web", "ios", "android"}


CONVERSION = """
experiment with_conversion "A conversion next to a ratio, with CUPED and a segment" {
  unit user_id
  assignment assignments variant variant where experiment_id = 'prompt_template_v3'
  variants control 50% control, treatment 50%
  window 2026-10-15 .. 2026-10-28
  primary thumbs_up_within_a_day
  secondary csat
  cuped 14 days
  segments platform
}
"""


def test_conversion_in_an_experiment_equals_pandas(con, tables: Tables, tmp_path) -> None:
    """Started: a conversation at/after exposure; converted: a thumbs-up within a day of
    the first one, before the window ends (no CUPED for a conversion)."""
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    (tmp_path / "specs" / "with_conversion.mspec").write_text(CONVERSION, encoding="utf-8")
    with contextlib.chdir(tmp_path):
        ws = Workspace.load(Path("specs"))
    assert ws.ok, ws.render("text")
    sql = compile_object(ws.index, "with_conversion", get_backend("duckdb")).sql
    actual = con.execute(sql).df()
    expected = experiment_rows(tables, experiment_def(ws.index, "with_conversion"))
    for column in NUMBERS:
        if column not in expected:
            expected[column] = float("nan")
    expected["metric_2"] = None
    assert_same_rows(actual, expected, KEYS, exact=COUNTS, columns=NUMBERS)
    converted = actual[(actual.metric == "thumbs_up_within_a_day") & (actual.segment == "all")]
    assert (converted.sum_x > 0).all() and (converted.sum_x < converted.sum_y).all()
