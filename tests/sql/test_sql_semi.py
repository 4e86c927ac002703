"""The example balance (`backlog`: each queue's last snapshot in the period, summed over
queues) on the demo warehouse in DuckDB: what its semantics promise beyond the pandas
reference of tests/sql/test_sql_metrics.py — the rows of `--by channel` add up to the
total, `--where channel = …` gives the same rows as that channel's group, and `first`
and `last` pick different rows (so the reference comparison can tell them apart)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import pandas as pd

from metricspec.backends import get_backend
from metricspec.emit.metric_sql import metric_query_sql
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.plan.metric_query import Grain, plan_metric_query
from metricspec.plan.where import restrict
from metricspec.semantic import Index

OCTOBER = (dt.datetime(2026, 10, 1), dt.datetime(2026, 11, 1))


def _rows(con: duckdb.DuckDBPyConnection, index: Index, *, by: tuple[str, ...] = (),
          where: str | None = None, first: bool = False) -> pd.DataFrame:
    plan = plan_metric_query(index, ["backlog"], grain=Grain.parse("week"), dimensions=by,
                             start=OCTOBER[0], end=OCTOBER[1])
    if where is not None:
        plan = restrict(plan, where)
    if first:  # the same measure, choosing each queue's first snapshot instead
        (scan,) = plan.scans
        measures = tuple(dataclasses.replace(m, semi=dataclasses.replace(m.semi, choice="first"))
                         if m.semi else m for m in scan.measures)
        plan = dataclasses.replace(plan, scans=(dataclasses.replace(scan, measures=measures),))
    sql = SqlBuilder(get_backend("duckdb"))
    return con.execute(metric_query_sql(plan, sql).sql(dialect="duckdb")).df()


def test_channels_add_up_to_the_total(con: duckdb.DuckDBPyConnection, index: Index) -> None:
    total = _rows(con, index).set_index("period").backlog
    by = _rows(con, index, by=("channel",)).groupby("period").backlog.sum(min_count=1)
    assert len(total) == 5 and total.notna().all()
    pd.testing.assert_series_equal(by.astype(float), total.astype(float), check_names=False)


def test_where_gives_the_rows_of_that_channel(con: duckdb.DuckDBPyConnection,
                                              index: Index) -> None:
    where = _rows(con, index, where="channel = 'email'").set_index("period").backlog
    by = _rows(con, index, by=("channel",))
    email = by[by.channel == "email"].set_index("period").backlog
    pd.testing.assert_series_equal(where.astype(float), email.astype(float), check_names=False)


def test_first_and_last_choose_different_snapshots(con: duckdb.DuckDBPyConnection,
                                                   index: Index) -> None:
    last = _rows(con, index).backlog.astype(float)
    first = _rows(con, index, first=True).backlog.astype(float)
    assert (last != first).any()
