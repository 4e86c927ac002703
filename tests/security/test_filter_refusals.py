"""Everything outside the filter grammar is a diagnostic at its span, never SQL.

Hostile text in the places that are not string literals — a CAST's type, an EXTRACT's date
part, a column or qualifier name, a function name, an ESCAPE clause, a typed string — is
refused by `check` (MS403, MS404 or MS405) in both front ends; so is nesting deep enough to
exhaust a recursive parser. `metricspec query` then stops before it opens the warehouse, so
the canary tables of a DuckDB file and of a PostgreSQL server are untouched and PostgreSQL
receives no statement at all.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from security_support import (
    CANARIES,
    Postgres,
    cli,
    duckdb_canaries,
    duckdb_counts,
    postgres_counts,
    postgres_reset,
    write_specs,
)
from sqlglot import exp

from metricspec.backends import all_backends
from metricspec.emit.render import render_sql
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.filter_grammar import MAX_PROBLEMS
from metricspec.filters import MAX_DEPTH, MAX_LENGTH, MAX_NESTING, parse_filter
from metricspec.pipeline import compile_object
from metricspec.workspace import Workspace

PAYLOADS = ["UINTEGER))); DROP TABLE t; --", "text/*", "int); DROP TABLE canary; --", "x'y",
            'a""b', "year FROM ts)); DROP TABLE t; --", "é\u202e", "a;b", "$$", "\\"]


def ident(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# (filter template with {i} a quoted identifier and {s} a string literal, code, the text the
# caret must point at, or None when it points at the payload itself)
REFUSED: list[tuple[str, str, str | None]] = [
    ("CAST(status AS {i}) = 'x'", "MS403", None),
    ("TRY_CAST(status AS {i}) = 'x'", "MS403", None),
    ("status::{i} = 'x'", "MS403", None),
    ("CAST(status AS {s}) = 'x'", "MS403", None),
    ("EXTRACT({i} FROM ts) = 1", "MS403", None),
    ("EXTRACT({s} FROM ts) = 1", "MS403", None),
    ("{i} = 'x'", "MS405", None),
    ("{i}.status = 'x'", "MS405", None),
    ("status LIKE 'a' ESCAPE {s}", "MS403", "status LIKE 'a' ESCAPE"),
    ("status = N{s}", "MS403", "N"),
    ("lower({s}) = status AND pg_sleep(1) IS NULL", "MS403", "pg_sleep"),
]
UNQUOTED: list[tuple[str, str, str]] = [  # (filter, code, caret text)
    ("CAST(status AS uinteger) = 1", "MS403", "uinteger"),
    ("CAST(status AS json) IS NULL", "MS403", "json"),
    ("CAST(status AS varchar(10)) = 'x'", "MS403", "varchar"),
    ("CAST(amount AS decimal(99, 2)) > 0", "MS403", "decimal"),
    ("EXTRACT(dow FROM ts) = 1", "MS403", "dow"),
    ("EXTRACT(epoch FROM ts) > 1", "MS403", "epoch"),
    ("round(amount, 12) > 1", "MS403", "12"),
    ("round(amount, score) > 1", "MS403", "score"),
    # two qualifiers are a join path (`user_id.account_id.tier`), judged by check.joins
    ("db.app.events.status = 'x'", "MS405", "db.app.events.status"),
    ("status = $1", "MS405", "$1"),
    ("status = x'41'", "MS404", "'"),
    ("status = 0x41", "MS403", "x41"),
    ("status = current_user", "MS403", "current_user"),
    ("version() IS NULL", "MS403", "version"),
    ("status IS DISTINCT FROM 'x'", "MS403", "status IS DISTINCT FROM 'x'"),
    ("status = ANY(ARRAY['x'])", "MS403", "ANY(ARRAY['x'"),
    ("trim(BOTH 'x' FROM status) = 'y'", "MS403", "trim(BOTH 'x' FROM status"),
    ("status = 'a' -- 'b'", "MS403", "--"),
    ("status = 'a'; DROP TABLE canary", "MS403", ";"),
]


def _cases() -> list[tuple[str, str, str]]:
    cases = [(t.format(i=ident(p), s=string(p)), code,
              caret or (ident(p) if "{i}" in t else string(p)))
             for t, code, caret in REFUSED for p in PAYLOADS]
    return cases + UNQUOTED


@pytest.mark.parametrize(("text", "code", "caret"), _cases())
def test_refused_at_its_span(text: str, code: str, caret: str) -> None:
    checked, problems = parse_filter(text)
    assert checked is None and problems, text
    assert problems[0].code == code, (text, problems)
    shown = text[problems[0].start:problems[0].end]
    assert caret in shown or shown in caret, (text, shown, caret)


SOURCE = """source events = table app.events {
  entity user_id: string
  time ts: timestamp
  dimension status: string
  column amount: number, score: integer
}
"""


@pytest.mark.parametrize("text", [c[0] for c in _cases()[::7]] + [
    'CAST(1 AS "UINTEGER))); DROP TABLE t; --") = 1', 'CAST(status AS "text/*") = 1'])
def test_check_refuses_in_both_front_ends(tmp_path: Path, text: str) -> None:
    dsl = {"s.mspec": SOURCE + f"metric m = count(events where {text})\n"}
    yaml = {"s.mspec": SOURCE,
            "m.yaml": f"metrics:\n  m:\n    expr: {json.dumps(f'count(events where {text})')}\n"}
    for name, files in (("dsl", dsl), ("yaml", yaml)):
        ws = Workspace.load(write_specs(tmp_path / name, files))
        codes = {d.code for d in ws.errors}
        assert codes and codes <= {"MS403", "MS404", "MS405", "MS101", "MS102"}, (
            name, ws.render("text"))


# ---------------------------------------------------------------- the exploits

EXPLOITS = [
    'CAST(1 AS "UINTEGER))) AS x FROM (SELECT 1)); DROP TABLE t; --") = 1',
    'EXTRACT("year FROM ts)) FROM (SELECT 1)); DROP TABLE t; --" FROM ts) = 1',
    'CAST(status AS "text/*") = 1',
]


def _exploit_specs(folder: Path) -> Path:
    metrics = "".join(f"  x{i}:\n    expr: {json.dumps(f'count(events where {e})')}\n"
                      for i, e in enumerate(EXPLOITS))
    return write_specs(folder, {"s.mspec": SOURCE, "m.yaml": "metrics:\n" + metrics})


def test_query_stops_before_duckdb(tmp_path: Path) -> None:
    folder = _exploit_specs(tmp_path / "specs")
    database = tmp_path / "w.duckdb"
    duckdb_canaries(database)
    for i in range(len(EXPLOITS)):
        code, output = cli("query", f"x{i}", "-s", str(folder), "-w", f"duckdb:///{database}")
        assert code == 1 and "MS403" in output, output
    assert duckdb_counts(database) == CANARIES


def test_query_stops_before_postgres(tmp_path: Path, postgres: Postgres) -> None:
    folder = _exploit_specs(tmp_path / "specs")
    postgres_reset(postgres.url, [])
    mark = postgres.mark()
    for i in range(len(EXPLOITS)):
        code, output = cli("query", f"x{i}", "-s", str(folder), "-w", postgres.url)
        assert code == 1 and "MS403" in output, output
    assert postgres.statements_since(mark) == []
    assert postgres_counts(postgres.url) == CANARIES


# ---------------------------------------------------------------- nesting and size

DEEP = [
    "(" * 60 + "status = 'x'" + ")" * 60,
    "{" * 60 + "x" + "}" * 60,
    "[" * 60 + "1" + "]" * 60 + " = status",
    "NOT " * 3000 + "status = 'x'",
    "- " * 3000 + "score > 0",
    "score = " + " + ".join(["1"] * 5000),
    " OR ".join(["status = 'x'"] * 2000),
    "CASE WHEN " * 300 + "TRUE" + " THEN TRUE END" * 300,
    "lower(" * 60 + "status" + ")" * 60 + " = 'x'",
    "status = '" + "x" * (MAX_LENGTH + 1) + "'",
]


@pytest.mark.parametrize("text", DEEP, ids=[f"deep{i}" for i in range(len(DEEP))])
def test_deep_or_huge_filters_are_diagnostics(text: str) -> None:
    started = time.perf_counter()
    checked, problems = parse_filter(text)
    assert checked is None and problems[0].code == "MS403", problems
    assert time.perf_counter() - started < 2


def test_deepest_accepted_filters_compile_everywhere(tmp_path: Path) -> None:
    """Just inside the bounds, a filter compiles for every backend (no later recursion).
    The DSL itself allows three levels of parentheses in a filter, so the deepest nesting is
    built through the SQL builder directly."""
    nested = "(" * (MAX_NESTING - 1) + "status = 'x'" + ")" * (MAX_NESTING - 1)
    chain = " OR ".join([f"score = {i}" for i in range(MAX_DEPTH // 2 - 2)])
    mixed = "score " + " ".join(f"{op} {i}" for i, op in zip(
        range(MAX_DEPTH // 2 - 2), ["+", "*", "-", "/"] * MAX_DEPTH, strict=False)) + " > 0"
    metrics = "".join(f"metric m{i} = count(events where {f})\n"
                      for i, f in enumerate((chain, mixed)))
    ws = Workspace.load(write_specs(tmp_path / "s", {"s.mspec": SOURCE + metrics}))
    assert ws.ok, ws.render("text")
    for backend in all_backends().values():
        for i in range(2):
            assert "SELECT" in compile_object(ws.index, f"m{i}", backend).sql
        condition = SqlBuilder(backend).filter(parse_filter(nested)[0], "s")
        assert condition is not None
        query = exp.select("*").from_("t").where(condition)
        sql = render_sql(query, backend, kind="test", name="nested", files=())
        assert sql.count("(") >= MAX_NESTING - 1


def test_problems_per_filter_are_capped() -> None:
    text = " AND ".join(f"random{i}() > 0" for i in range(50))
    assert len(parse_filter(text)[1]) == MAX_PROBLEMS


# ---------------------------------------------------------------- the user's own words


@pytest.mark.parametrize(("text", "name"), [
    ("random() < 0.5", "random"), ("RANDOM() < 0.5", "random"), ("rand() < 0.5", "rand"),
    ("Pg_Sleep(1) IS NULL", "pg_sleep"), ("sum(amount) > 1", "sum"), ("now() > ts", "now"),
    ("char_length(status) > 1 AND ifnull(score, 1) > gen_random_uuid()", "gen_random_uuid"),
])
def test_messages_name_functions_as_written(text: str, name: str) -> None:
    (problem,) = parse_filter(text)[1]
    assert f"the function `{name}` is not allowed" in problem.message
    assert text[problem.start:problem.end].lower() == name
