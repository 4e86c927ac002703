"""The monitor series query (every window with its value, sample size, baseline, alert limit
and alert flag) equals an independent pandas computation (`monitor_series_reference`), and
its windows in alert are exactly the rows of the alert query: on the demo warehouse, and on
a copy with whole hours missing and windows thinned below their minimum sample (gaps)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from monitor_reference import rule_of
from monitor_series_reference import series
from sql_reference import Tables, assert_same_rows
from test_sql_monitors import EXAMPLES, EXTRAS, INCIDENT_DAY, extra_index  # noqa: F401

from metricspec.backends import get_backend
from metricspec.emit.monitor_series_sql import SERIES_COLUMNS
from metricspec.emit.monitor_sql import ALERT_COLUMNS
from metricspec.pipeline import compile_object, series_sql
from metricspec.semantic import Index

RANGES = {"all": (None, None), "incident day": INCIDENT_DAY,
          "from inside the incident": (dt.datetime(2026, 11, 16, 14, 30), None)}
# Gaps: an hour without events inside the incident and one before it, and a stretch of the
# incident day where only every tenth event is kept (windows below min_n).
GAPS = [
    "DELETE FROM {table} WHERE {time} >= TIMESTAMP '2026-11-16 14:20:00' "
    "AND {time} < TIMESTAMP '2026-11-16 14:35:00'",
    "DELETE FROM {table} WHERE {time} >= TIMESTAMP '2026-11-16 09:00:00' "
    "AND {time} < TIMESTAMP '2026-11-16 10:00:00'",
    "DELETE FROM {table} WHERE {time} >= TIMESTAMP '2026-11-16 11:00:00' "
    "AND {time} < TIMESTAMP '2026-11-16 12:30:00' AND hash({key}) % 10 <> 0",
    "DELETE FROM {table} WHERE {time} >= TIMESTAMP '2026-11-03 00:00:00' "
    "AND {time} < TIMESTAMP '2026-11-05 00:00:00'",
]
TIMES = {"feedback": ("ts", "feedback_id"), "messages": ("ts", "message_id"),
         "conversations": ("started_ts", "conversation_id")}


@pytest.fixture(scope="module")
def gap_con(warehouse_path: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[duckdb.DuckDBPyConnection]:
    path = tmp_path_factory.mktemp("gaps") / "gaps.duckdb"
    shutil.copy(warehouse_path, path)
    connection = duckdb.connect(str(path))
    for table, (time, key) in TIMES.items():
        for statement in GAPS:
            connection.execute(statement.format(table=f"support.{table}", time=time, key=key))
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def gap_tables(gap_con: duckdb.DuckDBPyConnection) -> Tables:
    return Tables.load(gap_con)


def _run(con: duckdb.DuckDBPyConnection, index: Index, name: str, start: dt.datetime | None,
         end: dt.datetime | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    compiled = compile_object(index, name, get_backend("duckdb"), start=start, end=end)
    return con.execute(compiled.sql).df(), con.execute(series_sql(compiled)).df()


def _check(con, tables: Tables, index: Index, name: str, window: str) -> pd.DataFrame:
    start, end = RANGES[window]
    rule = rule_of(index, name)
    keys = ["period", *rule.dims]
    alerts, actual = _run(con, index, name, start, end)
    assert list(actual.columns) == [*keys, *SERIES_COLUMNS[1:]]
    # the windows in alert are exactly the alert query's rows, with the same numbers (up to
    # the order a parallel AVG adds in)
    flagged = actual[actual.alert == 1][[*keys, *ALERT_COLUMNS[1:]]]
    assert_same_rows(flagged, alerts, keys, exact={"sample_n", "baseline_windows"},
                     rel=1e-12)
    expected = series(tables, rule, start, end)
    assert_same_rows(actual, expected, keys, exact={"sample_n", "judged", "baseline_windows",
                                                    "alert"}, columns=list(expected.columns))
    return actual


@pytest.mark.parametrize("window", list(RANGES))
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_series_equal_pandas_and_the_alerts(con, tables, index, name, window) -> None:
    _check(con, tables, index, name, window)


@pytest.mark.parametrize("name", EXTRAS)
def test_more_rule_shapes(con, tables, extra_index, name) -> None:  # noqa: F811
    _check(con, tables, extra_index, name, "all")


@pytest.mark.parametrize("window", list(RANGES))
@pytest.mark.parametrize("name", [*EXAMPLES, *EXTRAS])
def test_series_with_gaps(gap_con, gap_tables, extra_index, name, window) -> None:  # noqa: F811
    _check(gap_con, gap_tables, extra_index, name, window)


def test_the_series_shows_gaps_and_a_band_outside_alerts(gap_con, extra_index) -> None:  # noqa: F811
    _, rows = _run(gap_con, extra_index, "csat_drop", *INCIDENT_DAY)
    assert (rows.judged == 0).any() and (rows.judged == 1).any()
    unjudged = rows[rows.judged == 0]
    assert unjudged.alert_limit.isna().all() and (unjudged.alert == 0).all()
    calm = rows[(rows.judged == 1) & (rows.alert == 0)]
    assert calm.alert_limit.notna().mean() > 0.9  # the band on windows that do not alert
    banded = calm[calm.alert_limit.notna()]
    assert (banded.value >= banded.alert_limit).all()  # csat_drop: below the limit alerts
    assert (rows.alert == 1).sum() > 0
