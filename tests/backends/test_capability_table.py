"""The capability table: every construct the SQL emitter builds × every backend in `backends/`.

Each construct comes from `SqlBuilder` (the one place capability flags and `[spellings]`
become SQL), is rendered as the emitter renders a whole query, and must parse back as one
SELECT in the backend's own dialect; on DuckDB it is also executed and its value compared.
Where sqlglot's default spelling has been wrong for a warehouse, the table pins the spelling
each backend gets (`SPELLED`), as sqlglot's own dialect tests do. A new `backends/x.toml`
is in the table without any edit here.

Not in the table because the emitter never writes them: `QUALIFY` (windows are filtered in
an outer query) and `SUM` of a boolean (a condition is summed as `CASE WHEN … THEN 1 ELSE 0`),
which is why those two flags were removed from the backend files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from metricspec.backends import Aggregates, Backend, all_backends
from metricspec.emit.render import render_sql
from metricspec.emit.sqlbuild import SqlBuilder, cast
from metricspec.plan.metric_query import Grain

BACKENDS = list(all_backends().values())
T0 = dt.datetime(2024, 3, 6, 13, 47, 12)  # a Wednesday

Build = Callable[[SqlBuilder], exp.Expr]


def _cond(sql: SqlBuilder) -> exp.Expr:
    return exp.Paren(this=exp.EQ(this=sql.col("kind", "s"), expression=sql.text("a")))


def _x(sql: SqlBuilder) -> exp.Expr:
    return sql.col("x", "s")


#: construct -> (how SqlBuilder builds it, its value on the table below, run on DuckDB)
AGGREGATES: dict[str, tuple[Build, object]] = {
    "count rows": (lambda s: s.agg("count", None, None), 6),
    "count rows where": (lambda s: s.agg("count", None, _cond(s)), 3),
    "count values": (lambda s: s.agg("count", _x(s), None), 5),
    "count values where": (lambda s: s.agg("count", _x(s), _cond(s)), 2),
    "count distinct": (lambda s: s.agg("count_distinct", _x(s), None), 4),
    "count distinct where": (lambda s: s.agg("count_distinct", _x(s), _cond(s)), 2),
    "sum": (lambda s: s.agg("sum", _x(s), None), 14),
    "sum where": (lambda s: s.agg("sum", _x(s), _cond(s)), 3),
    "min where": (lambda s: s.agg("min", _x(s), _cond(s)), 1),
    "max where": (lambda s: s.agg("max", _x(s), _cond(s)), 2),
    # a boolean is summed as CASE WHEN … THEN 1 ELSE 0, never SUM(boolean)
    "sum of a condition": (lambda s: s.agg("sum", s.when(_cond(s), s.num(1), s.num(0)),
                                           None), 3),
    "percentile": (lambda s: s.percentile(_x(s), 0.5, None), 3.0),
    "percentile where": (lambda s: s.percentile(_x(s), 0.5, _cond(s)), 1.5),
    # integers divided never truncate; a zero divisor gives NULL
    "safe division of integers": (lambda s: s.div(s.agg("sum", _x(s), None),
                                                  s.agg("count", None, None)), 14 / 6),
    "safe division by zero": (lambda s: s.div(s.agg("sum", _x(s), None), s.num(0)), None),
    "safe division of a difference": (lambda s: s.div(
        exp.Sub(this=s.agg("max", _x(s), None), expression=s.agg("min", _x(s), None)),
        s.num(2)), 1.5),
}

SCALARS: dict[str, tuple[Build, object]] = {
    "timestamp literal": (lambda s: s.ts(T0), T0),
    "timestamp plus seconds": (lambda s: s.ts_add(s.ts(T0), 90), T0 + dt.timedelta(seconds=90)),
    "timestamp minus seconds": (lambda s: s.ts_add(s.ts(T0), -3600),
                                T0 - dt.timedelta(hours=1)),
    "exact fraction": (lambda s: exp.Add(this=s.num(1), expression=exp.Mul(
        this=s.num(99), expression=s.exact_fraction(0.95))), Decimal("95.05")),
    "null timestamp": (lambda s: s.null_timestamp(), None),
    "cast to float": (lambda s: s.div(s.to_float(s.num(7)), s.num(2)), 3.5),
    "cast to text": (lambda s: cast(s.num(7), "VARCHAR"), "7"),
    "typed nulls": (lambda s: exp.Coalesce(this=s.typed_null("DOUBLE"), expressions=[
        cast(s.typed_null("BIGINT"), "DOUBLE"), s.num(1)]), 1),
    "negative number": (lambda s: s.num(-2.5), -2.5),
}

GRAINS = {
    "minute": dt.datetime(2024, 3, 6, 13, 47),
    "5 minutes": dt.datetime(2024, 3, 6, 13, 45),
    "15 minutes": dt.datetime(2024, 3, 6, 13, 45),
    "hour": dt.datetime(2024, 3, 6, 13),
    "6 hours": dt.datetime(2024, 3, 6, 12),
    "day": dt.datetime(2024, 3, 6),
    "week": dt.datetime(2024, 3, 4),  # the Monday
    "month": dt.datetime(2024, 3, 1),
}

#: Spellings sqlglot got wrong for a warehouse, pinned: construct -> backend -> SQL fragment.
SPELLED: dict[str, dict[str, str]] = {
    "percentile": {
        "duckdb": "QUANTILE_CONT(", "postgres": "PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY",
        "snowflake": "PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY", "spark": "PERCENTILE(",
        "databricks": "PERCENTILE(", "bigquery": "APPROX_QUANTILES(", "trino":
        "APPROX_PERCENTILE(",
    },
    "timestamp minus seconds": {"trino": "DATE_ADD('SECOND', -3600,",
                                "bigquery": "TIMESTAMP_SUB("},
    "safe division by zero": {"spark": "NULLIF(0, 0)", "databricks": "NULLIF(0, 0)",
                              "bigquery": "SAFE_DIVIDE(", "trino": "NULLIF(0, 0)"},
    "safe division of integers": {"postgres": "AS DOUBLE PRECISION) /",
                                  "trino": "AS DOUBLE) /"},
}
NEVER: dict[str, tuple[str, ...]] = {  # functions a warehouse does not have
    "trino": ("PERCENTILE_CONT", "TIMESTAMP_SUB", "QUANTILE"),
    "databricks": ("PERCENTILE_CONT", "PERCENTILE_APPROX"),
    "spark": ("PERCENTILE_CONT", "PERCENTILE_APPROX"),
}


def _table(sql: SqlBuilder) -> exp.Expr:
    return exp.Table(this=exp.to_identifier("t")).as_("s", quoted=False)


def _render(tree: exp.Expr, backend: Backend, name: str) -> str:
    text = render_sql(tree, backend, kind="construct", name=name, files=[])
    statements = sqlglot.parse(text, read=backend.sqlglot_dialect)
    assert len(statements) == 1 and isinstance(statements[0], exp.Select), text
    return text


def _aggregate(backend: Backend, name: str) -> str:
    sql = SqlBuilder(backend)
    value = AGGREGATES[name][0](sql)
    return _render(exp.select(value.as_(sql.alias("v"))).from_(_table(sql)), backend, name)


def _scalar(backend: Backend, name: str) -> str:
    sql = SqlBuilder(backend)
    return _render(exp.select(SCALARS[name][0](sql).as_(sql.alias("v"))), backend, name)


def _bucket(backend: Backend, grain: str) -> str:
    sql = SqlBuilder(backend)
    period = sql.bucket(sql.col("ts", "s"), Grain.parse(grain))
    select = exp.select(period.as_(sql.alias("period")),
                        sql.agg("count", None, None).as_(sql.alias("n"))).from_(_table(sql))
    select = sql.group(select, [period])
    window = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=[sql.asc(
        sql.ref("period"))]))
    outer = exp.select(sql.ref("period"), window.as_(sql.alias("r"))).from_(
        exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier("b"))))
    return _render(outer, backend, grain)


@pytest.fixture(scope="module")
def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute('CREATE TABLE t ("x" INTEGER, "kind" VARCHAR, "ts" TIMESTAMP)')
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", [
        (1, "a", T0), (2, "a", T0), (None, "a", T0), (3, "b", T0), (4, "b", T0),
        (4, "c", T0)])
    return con


def _spelling(backend: Backend, construct: str, text: str) -> None:
    fragment = SPELLED.get(construct, {}).get(backend.name)
    if fragment is not None:
        assert fragment in text, f"{backend.name} {construct}: want `{fragment}` in\n{text}"
    for function in NEVER.get(backend.name, ()):
        assert f"{function}(" not in text, f"{backend.name} has no {function}:\n{text}"


@pytest.mark.parametrize("backend", BACKENDS, ids=str)
@pytest.mark.parametrize("construct", AGGREGATES)
def test_aggregates(backend: Backend, construct: str, warehouse) -> None:
    if "percentile" in construct and backend.capabilities.percentile == "none":
        pytest.skip(f"{backend.title} has no aggregate percentile (check reports MS703)")
    text = _aggregate(backend, construct)
    _spelling(backend, construct, text)
    if backend.name == "duckdb":
        [(value,)] = warehouse.execute(text).fetchall()
        assert value == pytest.approx(AGGREGATES[construct][1]), (construct, text)


@pytest.mark.parametrize("backend", BACKENDS, ids=str)
@pytest.mark.parametrize("construct", SCALARS)
def test_scalars(backend: Backend, construct: str, warehouse) -> None:
    text = _scalar(backend, construct)
    _spelling(backend, construct, text)
    if backend.name == "duckdb":
        [(value,)] = warehouse.execute(text).fetchall()
        expected = SCALARS[construct][1]
        assert value == (pytest.approx(expected) if isinstance(expected, float) else expected)


@pytest.mark.parametrize("backend", BACKENDS, ids=str)
@pytest.mark.parametrize("grain", GRAINS)
def test_date_truncation_grouped(backend: Backend, grain: str, warehouse) -> None:
    text = _bucket(backend, grain)
    _spelling(backend, f"bucket {grain}", text)
    if backend.name == "duckdb":
        assert warehouse.execute(text).fetchall() == [(GRAINS[grain], 1)]


@pytest.mark.parametrize("backend", BACKENDS, ids=str)
def test_names_are_quoted_and_folded(backend: Backend) -> None:
    sql = SqlBuilder(backend)
    text = _render(exp.select(sql.col("Mixed_Case", "s")).from_(_table(sql)), backend, "names")
    folded = {"upper": "MIXED_CASE", "lower": "mixed_case", "as_is": "Mixed_Case"}
    assert folded[backend.capabilities.identifier_case] in text


#: filtered aggregate constructs of the table above, by the `[aggregates]` key that spells them
FILTERED: dict[str, str] = {
    "count rows where": "filtered_count", "count values where": "filtered_count",
    "count distinct where": "filtered_distinct", "sum where": "filtered_sum",
    "min where": "filtered_sum", "max where": "filtered_sum",
    "percentile where": "filtered_percentile",
}


def _spelled_as(backend: Backend, key: str, spelling: str) -> Backend:
    aggregates = backend.aggregates.model_copy(update={key: spelling})
    return backend.model_copy(update={"aggregates": aggregates})


def test_every_aggregate_key_is_in_the_table() -> None:
    assert set(FILTERED.values()) == set(Aggregates.model_fields)


@pytest.mark.parametrize("backend", BACKENDS, ids=str)
@pytest.mark.parametrize("construct", FILTERED)
def test_filtered_aggregates_are_spelled_as_the_backend_chose(
        backend: Backend, construct: str) -> None:
    if "percentile" in construct and backend.capabilities.percentile == "none":
        pytest.skip(f"{backend.title} has no aggregate percentile (check reports MS703)")
    chosen = getattr(backend.aggregates, FILTERED[construct])
    text = _aggregate(backend, construct)
    assert ("FILTER(WHERE" in text.replace(" ", "")) == (chosen == "filter"), text
    assert ("CASE WHEN" in text) == (chosen == "case"), text


@pytest.mark.parametrize("backend", BACKENDS, ids=str)
@pytest.mark.parametrize("construct", FILTERED)
@pytest.mark.parametrize("spelling", ["filter", "case"])
def test_both_spellings_of_a_filtered_aggregate_parse_and_agree(
        backend: Backend, construct: str, spelling: str, warehouse) -> None:
    """Either spelling a backend may choose renders for it, and gives the same value."""
    if spelling == "filter" and not backend.capabilities.filter_clause:
        pytest.skip(f"{backend.title} has no FILTER clause")
    if "percentile" in construct and backend.capabilities.percentile == "none":
        pytest.skip(f"{backend.title} has no aggregate percentile (check reports MS703)")
    text = _aggregate(_spelled_as(backend, FILTERED[construct], spelling), construct)
    if backend.name == "duckdb":
        [(value,)] = warehouse.execute(text).fetchall()
        assert value == pytest.approx(AGGREGATES[construct][1]), (construct, text)
