"""Derived dimensions go through the filter's closed grammar (issue 11).

A derived dimension (`dimension tenure = case … end`) is SQL text from a spec that ends up
in every query grouping or filtering by it. It is parsed by `filters.parse_filter` and
rebuilt from the closed grammar like a `where` filter: anything outside it is a diagnostic
at its place in the file, and what the emitter renders is the rebuilt tree, never sqlglot's
parse of the text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlglot import exp

from metricspec.backends import get_backend
from metricspec.emit.join_sql import relation
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.plan.joins import plan_joins
from metricspec.workspace import Workspace

BASE = """\
source users = table s.users {{
  entity user_id: string primary
  time signup_ts: timestamp
  dimension plan: string
  dimension tenure = {expr}
  column country: string
}}
source events = table s.events {{
  entity user_id: string
  time ts: timestamp
  column amount: number
}}
metric revenue = sum(events.amount)
"""


def _load(tmp_path: Path, expr: str) -> Workspace:
    (tmp_path / "model.mspec").write_text(BASE.format(expr=expr))
    return Workspace.load(tmp_path)


@pytest.mark.parametrize("expr,code", [
    ("(select max(plan) from s.users)", "MS403"),
    ("plan || (select 1)", "MS403"),
    ("random()", "MS403"),
    ("pg_sleep(10)", "MS403"),
    ("plan /* hidden */", "MS403"),
    ("case when plan = 'x' then 'a' else end", "MS404"),
    ("colour", "MS405"),
])
def test_a_derived_dimension_outside_the_grammar_is_refused(tmp_path: Path, expr: str,
                                                            code: str) -> None:
    ws = _load(tmp_path, expr)
    found = [d for d in ws.errors if d.code == code]
    assert found, ws.render()
    assert found[0].span.line == 5 and found[0].span.column >= 22


def test_what_is_rendered_is_the_rebuilt_tree(tmp_path: Path) -> None:
    ws = _load(tmp_path, "case when \"plan\" = 'pro' then upper(plan) else 'other' end")
    assert ws.ok, ws.render()
    events = ws.index.sources["events"]
    joins = plan_joins(ws.index.sources, events, ("users.tenure",))
    assert joins is not None
    sql = SqlBuilder(get_backend("duckdb"))
    tree = relation(events, joins, sql, "s")
    text = tree.sql(dialect="duckdb")
    assert 'UPPER(j1."plan")' in text, text
    # every node of the derived expression is one metricspec built
    case = list(tree.find_all(exp.Case))[-1]  # inside the NULL guard of unmatched rows
    assert {type(n) for n in case.walk()} <= {
        exp.Case, exp.If, exp.EQ, exp.Column, exp.Identifier, exp.Literal, exp.Upper,
        exp.Paren}
