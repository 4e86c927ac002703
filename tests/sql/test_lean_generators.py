"""`emit.generators` writes the same text as sqlglot's own generators: for every query of
`specs/` in every dialect, and for trees holding the constructs whose rewrites it leaves out
for the SELECTs without them (written from other dialects, as a user's source query may be)."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel

from metricspec.backends import all_backends
from metricspec.emit.generators import _lean_class, clean_selects, generate
from metricspec.emit.precedence import parenthesize
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.pipeline import compile_all
from metricspec.pipeline.kinds import KINDS
from metricspec.semantic import Index

LEAN = ("snowflake", "bigquery", "trino")


def stock(tree: exp.Expr, dialect: str) -> str:
    return Dialect.get_or_raise(dialect).generate(
        tree, copy=False, pretty=True, unsupported_level=ErrorLevel.RAISE)


def test_the_dialects_that_run_scope_rewrites_get_a_lean_generator() -> None:
    for dialect in LEAN:
        assert _lean_class(dialect) is not None, dialect
    assert _lean_class("duckdb") is None  # nothing left out: its own generator


@pytest.mark.parametrize("dialect", sorted(all_backends()))
def test_every_query_of_the_specs_is_written_as_sqlglot_writes_it(
        index: Index, dialect: str) -> None:
    backend = all_backends()[dialect]
    queries, failed = compile_all(index, [backend], per_metric=True)
    assert not failed, [str(f) for f in failed]
    differ = []
    for query in queries:
        tree = parenthesize(KINDS[query.kind].emit(query.plan, SqlBuilder(backend)))
        if generate(tree.copy(), backend.sqlglot_dialect) != stock(tree, backend.sqlglot_dialect):
            differ.append(query.path)
    assert not differ


FOREIGN = [
    ("spark", "SELECT id, EXPLODE(items) AS item FROM orders"),
    ("spark", "WITH x AS (SELECT id, POSEXPLODE(items) FROM orders) SELECT * FROM x"),
    ("spark", "SELECT a.id FROM (SELECT id, EXPLODE(items) AS item FROM orders) AS a"),
    ("bigquery", "SELECT n FROM t CROSS JOIN UNNEST(t.arr) AS n"),
    ("bigquery", "SELECT * FROM UNNEST([STRUCT(1 AS a, 'x' AS b)])"),
    ("bigquery", "SELECT d FROM UNNEST(GENERATE_DATE_ARRAY('2024-01-01', '2024-02-01')) AS d"),
    ("bigquery", "WITH s AS (SELECT n FROM UNNEST(GENERATE_ARRAY(0, 5)) AS n) "
                 "SELECT COUNT(*) AS c FROM s JOIN t ON t.k = s.n"),
    ("duckdb", "SELECT UNNEST(GENERATE_SERIES(0, 5)) AS n FROM t"),
    ("duckdb", "WITH w AS (SELECT UNNEST(l) AS v FROM t) SELECT v, (SELECT MAX(v) FROM w) FROM w"),
    ("postgres", "SELECT DISTINCT ON (a) a, b FROM t ORDER BY a, b DESC"),
]


@pytest.mark.parametrize("dialect", LEAN)
@pytest.mark.parametrize(("read", "sql"), FOREIGN)
def test_trees_holding_the_constructs_are_written_as_sqlglot_writes_them(
        read: str, sql: str, dialect: str) -> None:
    tree = sqlglot.parse_one(sql, read=read)
    try:
        expected = stock(tree.copy(), dialect)
    except sqlglot.errors.UnsupportedError:
        with pytest.raises(sqlglot.errors.UnsupportedError):
            generate(tree, dialect)
        return
    assert generate(tree, dialect) == expected


def test_a_select_is_clean_unless_a_construct_is_below_it_outside_its_own_with() -> None:
    tree = sqlglot.parse_one(
        "WITH s AS (SELECT n FROM UNNEST(GENERATE_ARRAY(0, 5)) AS n) "
        "SELECT k FROM t WHERE k IN (SELECT x FROM UNNEST(t.a) AS x)", read="bigquery")
    clean = clean_selects(tree)
    assert clean is not None
    selects = list(tree.find_all(exp.Select))
    outer, *inner = selects
    assert id(outer) not in clean  # the subquery in its WHERE holds an UNNEST
    assert all(id(s) not in clean for s in inner)
    simple = sqlglot.parse_one("WITH s AS (SELECT 1 AS n FROM UNNEST([1]) AS u) "
                               "SELECT n FROM s", read="bigquery")
    assert id(simple) in (clean_selects(simple) or {})  # its own WITH does not count
    dated = sqlglot.parse_one("SELECT GENERATE_DATE_ARRAY('2024-01-01', '2024-01-05')",
                              read="bigquery")
    assert clean_selects(dated) is None
