"""Run metricspec's generated SQL on an engine and compare its answer with DuckDB's.

- :func:`demo_tables` builds the demo warehouse in a DuckDB file and exports its five
  ``support.*`` tables as Arrow tables, to be ``load``-ed into every engine.
- :func:`answer` runs one compiled query and returns an :class:`Answer`: lower-case column
  names (from the query's own select list, parsed back with sqlglot in its dialect) and
  rows with normalised values (aware timestamps → naive UTC, integral Decimals → int).
- :func:`assert_answers_match` compares two answers row by row on a key: the same keys in
  the same order, integers exactly, other numbers to a relative tolerance, and columns named
  exact to the bit.
- :func:`rank_bounds_sql` rewrites a DuckDB query so that every exact percentile becomes
  the sample value a rank tolerance away from it (for BigQuery's ``APPROX_QUANTILES``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from harness.base import Engine
from harness.compare import normalize, same
from metricspec.demo import generate

#: Scale of the session's shared demo warehouse (``demo_warehouse`` in conftest.py): 240
#: users, ~46,000 messages.
DEMO_SCALE = 0.02
DEMO_TABLES = ("users", "assignments", "conversations", "messages", "feedback",
               "user_profiles", "accounts", "models", "plan_history", "checkout_exposures",
               "checkout_orders", "backlog_snapshots")


def demo_tables(path: Path, scale: float) -> dict[str, pa.Table]:
    """Generate the demo warehouse into the DuckDB file ``path``; return its tables."""
    generate(path, scale=scale)
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            f"support.{name}": con.sql(f"SELECT * FROM support.{name}").to_arrow_table()
            for name in DEMO_TABLES
        }


def output_columns(sql: str, dialect: str) -> list[str]:
    """Parse ``sql`` back with sqlglot in ``dialect``; return its output column names.

    Raises:
        sqlglot.errors.ParseError: If sqlglot cannot read the SQL it generated.
    """
    tree = sqlglot.parse_one(sql, read=dialect)
    assert isinstance(tree, exp.Query), f"not a query: {type(tree).__name__}"
    names = [name.lower() for name in tree.named_selects]
    assert all(names) and len(set(names)) == len(names), f"unnamed or repeated columns: {names}"
    return names


@dataclass(frozen=True)
class Answer:
    """The result of one query: lower-case column names and normalised rows."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def keyed(self, key: Sequence[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
        """The rows by ``key``; the key must be unique."""
        out: dict[tuple[Any, ...], dict[str, Any]] = {}
        for record in self.records():
            k = tuple(record[c] for c in key)
            assert k not in out, f"key {dict(zip(key, k, strict=True))} is not unique"
            out[k] = record
        return out


def answer(engine: Engine, sql: str, dialect: str) -> Answer:
    """Run ``sql`` on ``engine``; column names come from the SQL (every engine keeps them)."""
    columns = output_columns(sql, dialect)
    rows = engine.run(sql)
    for row in rows:
        assert len(row) == len(columns), f"{len(row)} values for columns {columns}"
    return Answer(tuple(columns), tuple(tuple(normalize(v) for v in row) for row in rows))


def assert_answers_match(
    actual: Answer,
    expected: Answer,
    key: Sequence[str],
    *,
    rel: float = 1e-9,
    exact: Collection[str] | Callable[[tuple[Any, ...]], Collection[str]] = (),
    skip: Collection[str] = (),
    label: str = "",
) -> None:
    """Assert the same rows in the same key order, cell by cell.

    Integers compare exactly (see :func:`harness.compare.same`), other numbers to ``rel``;
    columns in ``exact`` must be equal to the bit (counts the SQL carries as DOUBLE, exact
    percentiles), or those a function of the row key returns; columns in ``skip`` are not
    compared (the caller checks them).
    """
    assert actual.columns == expected.columns, f"{label}: columns differ"
    got, want = actual.keyed(key), expected.keyed(key)
    assert list(got) == list(want), (
        f"{label}: row keys differ\n  only here: {sorted(set(got) - set(want), key=str)[:5]}"
        f"\n  only in DuckDB: {sorted(set(want) - set(got), key=str)[:5]}"
        f"\n  or in a different order: {list(got)[:5]} vs {list(want)[:5]}"
    )
    for k, row in got.items():
        bitwise = exact(k) if callable(exact) else exact
        for column, e in want[k].items():
            a = row[column]
            if column in skip:
                continue
            if column in bitwise and isinstance(e, float) and isinstance(a, int | float):
                ok = a == e or (math.isnan(a) and math.isnan(e))
            else:
                ok = same(a, e, rel)
            assert ok, f"{label}: row {k}, column {column!r}: {a!r} != {e!r} (DuckDB)"


_RANK_AT = """
LIST_EXTRACT(
  LIST_SORT(LIST(__value) FILTER (WHERE NOT __value IS NULL)),
  CAST({rounding}((COUNT(__value) - 1) * GREATEST(0.0, LEAST(1.0, {level}))) AS BIGINT) + 1
)
"""


def rank_bounds_sql(duckdb_sql: str, shift: float) -> str:
    """Rewrite DuckDB SQL so each ``QUANTILE_CONT(x, q)`` becomes the sample value of ``x``
    at 0-based rank ⌊(n−1)(q+shift)⌋ (``shift < 0``) or ⌈(n−1)(q+shift)⌉ (``shift > 0``),
    the level clamped to [0, 1].

    A quantile that is a sample value within ``|shift|`` quantile levels of the exact rank
    q·(n−1) — what BigQuery's ``APPROX_QUANTILES`` promises up to its error, and what
    ``zetasql`` returns (the nearest rank) — lies between the two bounds.
    """
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    for node in list(tree.find_all(exp.PercentileCont)):
        level = float(node.expression.name) + shift
        rounding = "FLOOR" if shift < 0 else "CEIL"
        bound = sqlglot.parse_one(
            _RANK_AT.format(rounding=rounding, level=repr(level)), read="duckdb"
        )
        value, target = node.this, node
        if isinstance(node.parent, exp.Filter):  # QUANTILE_CONT(x, q) FILTER (WHERE c)
            target = node.parent
            value = exp.Case(ifs=[exp.If(this=target.expression.this.copy(), true=value.copy())])
        for placeholder in list(bound.find_all(exp.Column)):
            if placeholder.name == "__value":
                placeholder.replace(value.copy())
        target.replace(bound)
    return tree.sql(dialect="duckdb")
