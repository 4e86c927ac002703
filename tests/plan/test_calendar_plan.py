"""Calendar grains and windows as requests: a window that does not fit the query's grain is
refused at the window's line:column (MS449, MS460, MS461), before any connection; the DSL
and YAML say the same thing; `--grain none` returns one row without a period column; weeks
in ranges and monitors start on the calendar's day. Values are checked against pandas on
every engine in tests/engines/test_calendar_series.py."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from metricspec.backends import get_backend
from metricspec.cli import app
from metricspec.pipeline import compile_object
from metricspec.plan.calendar import add_months, fiscal_label, floor
from metricspec.plan.lower import PlanError
from metricspec.plan.metric_query import Grain, plan_metric_query
from metricspec.plan.monitor import window_start
from metricspec.semantic import Index
from metricspec.workspace import Workspace

runner = CliRunner()

DSL = """\
calendar { week_start sunday; fiscal_year_start april }
source orders = table app.orders {
  entity user_id: string
  time ts: timestamp
  dimension country: string
  column amount: number
}
metric revenue = sum(orders.amount)
metric buyers = count_distinct(orders.user_id)
metric revenue_3m = rolling(revenue, 3 months)
metric monthly_buyers = rolling(buyers, 1 month)
metric revenue_mtd = to_date(revenue, month)
metric revenue_fytd = to_date(revenue, fiscal_year)
metric revenue_total = cumulative(revenue)
metric revenue_7d = rolling(revenue, 7 days)
"""

YAML = """\
calendar:
  week_start: sunday
  fiscal_year_start: april
sources:
  orders:
    table: app.orders
    entities: {user_id: string}
    time: {ts: timestamp}
    dimensions: {country: string}
    columns: {amount: number}
metrics:
  revenue: {expr: sum(orders.amount)}
  buyers: {expr: count_distinct(orders.user_id)}
  revenue_3m: {expr: "rolling(revenue, 3 months)"}
  monthly_buyers: {expr: "rolling(buyers, 1 month)"}
  revenue_mtd: {expr: "to_date(revenue, month)"}
  revenue_fytd: {expr: "to_date(revenue, fiscal_year)"}
  revenue_total: {expr: cumulative(revenue)}
  revenue_7d: {expr: "rolling(revenue, 7 days)"}
"""


def _index(tmp_path: Path, name: str, text: str) -> Index:
    folder = tmp_path / name
    folder.mkdir()
    (folder / f"project.{'yaml' if name == 'yaml' else 'mspec'}").write_text(text, "utf-8")
    ws = Workspace.load(folder)
    assert ws.ok, ws.render("text")
    return ws.index


@pytest.fixture()
def index(tmp_path: Path) -> Index:
    return _index(tmp_path, "dsl", DSL)


@pytest.mark.parametrize("metric,grain,code,where", [
    ("revenue_3m", "hour", "MS449", ":10:38"),
    ("monthly_buyers", "week", "MS449", ":11:41"),
    ("revenue_3m", "week", "MS449", ":10:38"),
    ("revenue_mtd", "week", "MS460", ":12:39"),
    ("revenue_mtd", "quarter", "MS460", ":12:39"),
    ("revenue_fytd", "year", "MS460", ":13:40"),
    ("revenue_mtd", "none", "MS461", ":12:39"),
    ("revenue_total", "none", "MS461", ":14:24"),
    ("revenue_7d", "none", "MS461", ":15:38"),
])
def test_windows_that_do_not_fit_the_grain_are_refused_at_their_place(
        index: Index, metric: str, grain: str, code: str, where: str) -> None:
    with pytest.raises(PlanError) as caught:
        plan_metric_query(index, [metric], grain=Grain.parse(grain))
    message = str(caught.value)
    assert message.startswith(str(index.metrics[metric].span.file) + where), message
    assert f"error[{code}]" in message


@pytest.mark.parametrize("metric,grain", [
    ("revenue_3m", "day"), ("revenue_3m", "month"), ("revenue_3m", "quarter"),
    ("revenue_3m", "fiscal_quarter"), ("revenue_mtd", "month"), ("revenue_mtd", "day"),
    ("revenue_fytd", "fiscal_quarter"), ("revenue_fytd", "month"), ("monthly_buyers", "day"),
])
def test_windows_that_fit_are_planned(index: Index, metric: str, grain: str) -> None:
    plan = plan_metric_query(index, [metric], grain=Grain.parse(grain))
    assert plan.grain.unit == grain


def test_dsl_and_yaml_compile_to_the_same_sql(tmp_path: Path, index: Index) -> None:
    other = _index(tmp_path, "yaml", YAML)
    backend = get_backend("duckdb")
    for metric in ("revenue_3m", "monthly_buyers", "revenue_mtd", "revenue_fytd"):
        for grain in ("day", "month"):
            if (metric, grain) == ("monthly_buyers", "month"):
                continue
            a, b = (compile_object(i, metric, backend, grain=Grain.parse(grain),
                                   start=dt.datetime(2026, 3, 1), end=dt.datetime(2026, 5, 1)
                                   ).sql for i in (index, other))
            body = [line for line in a.splitlines() if not line.startswith("-- from")]
            assert body == [line for line in b.splitlines() if not line.startswith("-- from")]


def test_the_calendar_reaches_the_week_bucket(index: Index, tmp_path: Path) -> None:
    """Without a calendar a week is ISO (the SQL of goldens); with `week_start sunday` the
    bucket is shifted and a Wednesday falls in the week of the Sunday before it."""
    plain = _index(tmp_path, "plain", DSL.split("\n", 1)[1])
    backend = get_backend("duckdb")
    sunday, iso = (compile_object(i, "revenue", backend, grain=Grain.parse("week")).sql
                   for i in (index, plain))
    assert sunday != iso
    con = duckdb.connect()
    con.execute("CREATE SCHEMA app")
    con.execute("CREATE TABLE app.orders AS SELECT TIMESTAMP '2026-03-04 10:00' AS ts, "
                "'u1' AS user_id, 'de' AS country, 2.5 AS amount")
    assert con.execute(sunday).fetchall()[0][0] == dt.datetime(2026, 3, 1)
    assert con.execute(iso).fetchall()[0][0] == dt.datetime(2026, 3, 2)


def test_python_floors_and_labels() -> None:
    assert floor(dt.datetime(2026, 4, 1), Grain("fiscal_quarter", fiscal_start=4)) == \
        dt.datetime(2026, 4, 1)
    assert floor(dt.datetime(2026, 3, 31, 23, 59), Grain("fiscal_quarter", fiscal_start=2)) == \
        dt.datetime(2026, 2, 1)
    assert add_months(dt.datetime(2024, 3, 31), -1) == dt.datetime(2024, 2, 29)
    assert fiscal_label(dt.datetime(2025, 4, 1), Grain("fiscal_year", fiscal_start=4)) == "FY2026"
    assert fiscal_label(dt.datetime(2026, 1, 1), Grain("fiscal_year")) == "FY2026"
    assert fiscal_label(dt.datetime(2025, 10, 1), Grain("fiscal_quarter", fiscal_start=10)) \
        == "FY2026 Q1"
    assert window_start(dt.datetime(2026, 3, 4, 9), Grain("week", week_start=6)) == \
        dt.datetime(2026, 3, 1)


def _cli(specs: Path, database: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--spec-dir", str(specs),
                                 "--warehouse", f"duckdb:///{database}"])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_query_grain_none_and_fiscal_grains_on_the_cli(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "project.mspec").write_text(DSL, encoding="utf-8")
    database = tmp_path / "w.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA app")
        con.execute("CREATE TABLE app.orders AS SELECT TIMESTAMP '2026-03-31 23:59:59' + "
                    "INTERVAL (i) HOUR AS ts, 'u' || (i % 3) AS user_id, "
                    "CASE WHEN i % 2 = 0 THEN 'de' ELSE 'fr' END AS country, "
                    "1.0 * i AS amount FROM range(0, 6) t(i)")
    status, output = _cli(specs, database, "query", "revenue", "buyers", "--grain", "none",
                          "--since", "2026-03-01", "--until", "2026-05-01", "--format", "json")
    assert status == 0, output
    assert json.loads(output) == [{"revenue": 15.0, "buyers": 3}]
    status, output = _cli(specs, database, "query", "revenue", "--grain", "none", "--by",
                          "country", "--since", "2026-03-01", "--until", "2026-05-01",
                          "--format", "csv")
    assert status == 0, output
    assert output.splitlines() == ["country,revenue", "de,6.0", "fr,9.0"]
    status, output = _cli(specs, database, "query", "revenue", "--grain", "fiscal_year",
                          "--format", "json")
    assert status == 0, output
    rows = json.loads(output)
    assert [r["period"][:10] for r in rows] == ["2025-04-01", "2026-04-01"]
    assert [r["revenue"] for r in rows] == [0.0, 15.0]
    assert [r["fiscal_period"] for r in rows] == ["FY2026", "FY2027"]  # the year it ends in
    assert list(rows[0]) == ["period", "fiscal_period", "revenue"]
    result = runner.invoke(app, ["sql", "revenue_3m", "--grain", "week", "--spec-dir",
                                 str(specs)])
    assert result.exit_code == 2 and "MS449" in result.output, result.output
    result = runner.invoke(app, ["sql", "revenue", "--grain", "fiscal_quarter", "--spec-dir",
                                 str(specs)])
    assert result.exit_code == 0 and "INTERVAL" in result.output, result.output
    status, output = _cli(specs, database, "query", "revenue_mtd", "--grain", "none")
    assert status == 2, output
    assert "MS461" in output
    status, output = _cli(specs, database, "query", "revenue", "--grain", "none", "--by",
                          "country", "--compare")
    assert status == 2 and "two periods" in output, output
    assert not (tmp_path / "never.duckdb").exists()
