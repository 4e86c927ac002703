"""No filter can inject SQL: every node kind of the filter grammar, with hostile text inside.

A filter is SQL text that metricspec parses and rebuilds from a closed grammar. These tests
build hostile filters by class — each allowed node kind with quoted payloads (`'`, `\\`, `--`,
`/*`, `;`, `$$`, unicode, control characters) in every place text can go — and check that:

- the rebuilt tree holds only node kinds of the closed set, none of them sqlglot's own;
- every backend's SQL parses back, in its own dialect, as exactly one SELECT whose string
  literals still hold the payload exactly (so no dialect's quoting let text out);
- the DuckDB and PostgreSQL SQL, run against databases holding canary tables, counts the
  right rows, leaves every canary intact, and is the only statement the server ran;
- everything outside the grammar (quoted or unknown types and date parts, quoted names,
  other functions, ESCAPE, typed strings, deep nesting) is a diagnostic at its span, and
  `metricspec query` then stops before it connects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
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

from metricspec import filters as filters_module
from metricspec.backends import all_backends, get_backend
from metricspec.filter_grammar import DATE_PARTS, IDENTIFIER, SHAPES, TYPES
from metricspec.filters import parse_filter
from metricspec.pipeline import compile_all
from metricspec.run.connections import connect
from metricspec.run.drivers.duckdb import DuckDBConnection
from metricspec.workspace import Workspace

# ---------------------------------------------------------------- the classes

PAYLOADS = [
    "'", "''", "\\", "\\'", "'; DROP TABLE canary; --", "\\'; DROP TABLE canary; --",
    "') OR 1=1 --", "--", "/*", "*/ DROP TABLE t /*", ";", "$$; DROP TABLE t; $$",
    "$tag$ x", '"; DROP TABLE users; --', "`; DROP TABLE t; --", "%_", "{fn now()}",
    "é ☃ 𝄞", "\u202e\u2028", "a\\nb", "\t", "\x01\x7f", "E'\\x27'",
]
# Each class: a filter with `{s}` where a string literal goes (already quoted), spelled so
# that it holds for exactly the row whose `status` is the payload. `{p}` is the payload as a
# LIKE pattern: `\` is an escape character in PostgreSQL's LIKE but not in DuckDB's, so it
# becomes `_` (any one character), which matches it on both.
CLASSES: dict[str, str] = {
    "compare": "status = {s}",
    "not_equal": "NOT status <> {s}",
    "and_or": "(status = {s} AND score >= 0) OR (status = {s} AND score IS NULL)",
    "in_list": "status IN ({s}, 'not a payload')",
    "between": "status BETWEEN {s} AND {s}",
    "like": "status LIKE {p} AND status = {s}",
    "not_like": "NOT status NOT LIKE {p} AND status = {s}",
    "ilike": "status ILIKE {p} AND status = {s}",
    "is_null": "status IS NOT NULL AND status = {s} AND (score IS NULL) IS FALSE",
    "case_searched": "CASE WHEN status = {s} THEN 1 ELSE 0 END = 1",
    "case_simple": "CASE status WHEN {s} THEN TRUE ELSE FALSE END",
    "lower_upper": "upper(lower(status)) = upper(lower({s})) AND status = {s}",
    "coalesce": "coalesce(status, 'zz') = {s}",
    "nullif": "nullif(status, {s}) IS NULL AND status IS NOT NULL",
    "length": "length(status) = length({s}) AND status = {s}",
    "trim": "trim(status) = trim({s}) AND status = {s}",
    "substring": "substring(status, 1, 200) = substring({s}, 1, 200)",
    "least_greatest": "least(status, {s}) = greatest(status, {s}) AND status IS NOT NULL",
    "concat": "concat(status, {s}) = concat({s}, status) AND status = {s}",
    "dpipe": "status || {s} = {s} || {s}",
    "cast": "CAST(status AS VARCHAR) = CAST({s} AS TEXT)",
    "try_cast": "TRY_CAST(status AS TEXT) = {s}",
    "extract": "EXTRACT(YEAR FROM ts) = 2026 AND EXTRACT(day FROM ts) >= 1 AND status = {s}",
    "arithmetic": "abs(-score) + floor(amount) * 2 - ceil(amount) / 1 >= -100 AND status = {s}",
    "modulo": "score % 2 IN (0, 1) AND status = {s}",
    "literals": "TRUE AND NOT FALSE AND 1.5e0 > 0.5 AND status = {s} AND NULL IS NULL",
    "decimal": "CAST(amount AS DECIMAL(10, 2)) >= 0 AND status = {s}",
    "round": "round(amount, 2) >= round(amount) - 1 AND round(score * 1.0, 0) >= -100 "
             "AND status = {s}",
    "qualified": "events.status = {s} AND \"score\" >= 0",
}


def sql_string(text: str) -> str:
    """A SQL string literal holding `text` (quotes doubled, nothing else escaped)."""
    return "'" + text.replace("'", "''") + "'"


def class_filter(template: str, payload: str) -> str:
    return template.format(s=sql_string(payload), p=sql_string(payload.replace("\\", "_")))


# ---------------------------------------------------------------- the closed node set

CLOSED: frozenset[type[exp.Expr]] = frozenset({
    *SHAPES, exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.If, exp.Var,
    exp.DataType, exp.DataTypeParam,
})


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_rebuilt_tree_is_closed_and_new(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Walk the rebuilt tree: only closed-set kinds, no node sqlglot's parser produced, and
    every name, type, date part and literal checked."""
    parsed: list[exp.Expr] = []
    real_parse = sqlglot.parse

    def recording_parse(sql: str, *args: Any, **kwargs: Any) -> list[exp.Expr | None]:
        trees = real_parse(sql, *args, **kwargs)
        parsed.extend(n for tree in trees if tree is not None for n in tree.walk())
        return trees

    monkeypatch.setattr(filters_module.sqlglot, "parse", recording_parse)
    for payload in PAYLOADS:
        text = class_filter(CLASSES[name], payload)
        checked, problems = parse_filter.__wrapped__(text)  # past the cache: parse again
        assert checked is not None, (text, problems)
        produced = {id(n) for n in parsed}
        for node in checked.tree.walk():
            assert type(node) in CLOSED, (name, type(node).__name__)
            assert id(node) not in produced, (name, repr(node))
            if isinstance(node, exp.Identifier):
                assert IDENTIFIER.fullmatch(node.this), node.this
            elif isinstance(node, exp.Var):
                assert node.this in DATE_PARTS
            elif isinstance(node, exp.DataType):
                assert node.this in TYPES
            elif isinstance(node, exp.Literal) and not node.is_string:
                float(node.this)  # a number, nothing else
        values = {n.this for n in checked.tree.find_all(exp.Literal) if n.is_string}
        assert payload in values, (name, payload, values)
        assert set(checked.columns) <= {"status", "score", "amount", "ts"}


# ---------------------------------------------------------------- every backend's SQL

SOURCE_YAML = """sources:
  events:
    table: app.events
    entities: {user_id: string}
    time: {ts: timestamp}
    dimensions: {status: string}
    columns: {amount: number, score: integer}
"""
WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter,
          exp.Command, exp.TruncateTable, exp.Into, exp.Copy, exp.Block)


def yaml_string(text: str) -> str:
    """A YAML double-quoted scalar holding `text` (YAML decodes each `\\uXXXX` on its own,
    so characters outside the BMP stay raw; unprintable ones are escaped)."""
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in quoted)


def spec_files(payload: str) -> dict[str, str]:
    """A source and one metric per class, each filtering on `payload`."""
    metrics = "".join(
        f"  {name}:\n    expr: {yaml_string(f'count(events where {class_filter(t, payload)})')}\n"
        for name, t in CLASSES.items())
    return {"events.yaml": SOURCE_YAML + "metrics:\n" + metrics}


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Workspace]:
    """A checked workspace per payload."""
    out = {}
    for i, payload in enumerate(PAYLOADS):
        folder = write_specs(tmp_path_factory.mktemp(f"payload{i}"), spec_files(payload))
        ws = Workspace.load(folder)
        assert ws.ok, (payload, ws.render("text"))
        out[payload] = ws
    return out


def _string_literals(tree: exp.Expr) -> set[str]:
    return {n.this for n in tree.find_all(exp.Literal) if n.is_string}


@pytest.mark.parametrize("backend", sorted(all_backends()))
def test_every_backend_keeps_payloads_inside_literals(workspaces: dict[str, Workspace],
                                                      backend: str) -> None:
    """All classes compile into one query per payload (the source's metric group)."""
    target = get_backend(backend)
    for payload, ws in workspaces.items():
        (query,), failed = compile_all(ws.index, [target])
        assert not failed and query.kind == "metrics", failed
        statements = sqlglot.parse(query.sql, read=target.sqlglot_dialect)
        assert len(statements) == 1 and isinstance(statements[0], exp.Query), query.sql
        tree = statements[0]
        assert not any(isinstance(n, WRITES) for n in tree.walk()), query.sql
        assert payload in _string_literals(tree), (backend, payload, query.sql)
        literal = target_literal(payload, target.sqlglot_dialect)
        assert query.sql.count(literal) >= len(CLASSES), (backend, payload, literal)


def target_literal(text: str, dialect: str) -> str:
    """`text` as a string literal of `dialect`, as sqlglot writes it."""
    return exp.Literal.string(text).sql(dialect)


# ---------------------------------------------------------------- executed

EVENTS = [  # one row per payload, plus rows no filter selects
    *((f"u{i}", f"2026-03-0{1 + i % 9} 10:00:00", payload, 1.5 + i, i)
      for i, payload in enumerate(PAYLOADS)),
    ("x1", "2026-03-01 11:00:00", "plain", 2.0, 7),
    ("x2", "2026-03-02 11:00:00", None, 3.0, None),
]
CREATE_EVENTS = ("CREATE TABLE app.events (user_id VARCHAR(20), ts TIMESTAMP, "
                 "status VARCHAR(200), amount DOUBLE PRECISION, score INTEGER)")


def _insert_events(run: Callable[[str], object]) -> None:
    for user, ts, status, amount, score in EVENTS:
        value = "NULL" if status is None else sql_string(status)
        run(f"INSERT INTO app.events VALUES ('{user}', TIMESTAMP '{ts}', {value}, {amount}, "
            f"{'NULL' if score is None else score})")


def _count(rows: list[dict[str, Any]], name: str) -> int:
    return sum(int(r[name] or 0) for r in rows)


@pytest.fixture(scope="module")
def duckdb_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "w.duckdb"
    duckdb_canaries(path)
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA app")
        con.execute(CREATE_EVENTS)
        _insert_events(con.execute)
    return path


def test_duckdb_runs_every_class_and_only_the_query(
        workspaces: dict[str, Workspace], duckdb_warehouse: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from metricspec.run.execute import run_metrics

    sent: list[str] = []
    real = DuckDBConnection._execute

    def recording(self: DuckDBConnection, sql: str) -> Any:
        sent.append(sql)
        return real(self, sql)

    monkeypatch.setattr(DuckDBConnection, "_execute", recording)
    before = duckdb_counts(duckdb_warehouse)
    with connect(f"duckdb:///{duckdb_warehouse}") as conn:
        for payload, ws in workspaces.items():
            rows = run_metrics(ws.index, list(CLASSES), conn)
            counts = {name: _count(rows, name) for name in CLASSES}
            assert counts == dict.fromkeys(CLASSES, 1), (payload, counts)
    assert before == duckdb_counts(duckdb_warehouse) == CANARIES
    with duckdb.connect() as con:
        for sql in sent:  # DuckDB's own parser: one statement, and it reads
            (statement,) = con.extract_statements(sql)
            assert statement.type.name == "SELECT", sql


def test_postgres_runs_every_class_and_only_the_query(
        workspaces: dict[str, Workspace], postgres: Postgres) -> None:
    from metricspec.run.execute import run_metrics

    postgres_reset(postgres.url, ["CREATE SCHEMA app", CREATE_EVENTS])
    with connect(postgres.url) as conn:
        _insert_events(conn.execute)
    mark = postgres.mark()
    with connect(postgres.url) as conn:
        for payload, ws in workspaces.items():
            rows = run_metrics(ws.index, list(CLASSES), conn)
            counts = {name: _count(rows, name) for name in CLASSES}
            assert counts == dict.fromkeys(CLASSES, 1), (payload, counts)
    ran = postgres.statements_since(mark)
    assert ran, "the statement log is empty: log_statement did not take effect"
    for sql in ran:
        assert _one_query(sql), sql
    assert postgres_counts(postgres.url) == CANARIES


# What a run reads is asked of PostgreSQL's planner (`run.cost`): the plan of the query,
# which executes nothing (no ANALYZE), and a read of pg_class. Anything else is not allowed.
PLAN_PREFIX = "EXPLAIN (FORMAT JSON, VERBOSE) "


def _one_query(sql: str) -> bool:
    """One read-only query, or the planner's plan of one (never EXPLAIN ANALYZE)."""
    sql = sql.removeprefix(PLAN_PREFIX)
    statements = sqlglot.parse(sql, read="postgres")
    return len(statements) == 1 and isinstance(statements[0], exp.Query)


@pytest.mark.parametrize("payload", ["'; DROP TABLE canary; --", "\\'; DROP TABLE canary; --"])
def test_query_command_with_hostile_literals(tmp_path: Path, duckdb_warehouse: Path,
                                            payload: str) -> None:
    """As a user: `metricspec query` on a spec folder, JSON out, canaries intact."""
    folder = write_specs(tmp_path / "specs", spec_files(payload))
    code, output = cli("query", "compare", "like", "case_simple", "-s", str(folder), "-w",
                       f"duckdb:///{duckdb_warehouse}", "--format", "json")
    assert code == 0, output
    rows = json.loads(output)
    assert [_count(rows, n) for n in ("compare", "like", "case_simple")] == [1, 1, 1]
    assert duckdb_counts(duckdb_warehouse) == CANARIES


# ---------------------------------------------------------------- an experiment, as a user

EXPERIMENT_YAML = """sources:
  assignments:
    table: app.assignments
    entities: {{user_id: string}}
    time: {{assigned_ts: timestamp}}
    columns: {{experiment_id: string, variant: string}}
experiments:
  e:
    unit: user_id
    assignment:
      source: assignments
      variant: variant
      where: {assignment}
    variants: {{control: 50%, treatment: 50%}}
    control: control
    window: 2026-03-01 .. 2026-03-14
    primary: compare
    secondary: [case_simple, like]
"""


def _experiment_specs(folder: Path, payload: str) -> Path:
    files = spec_files(payload)
    assignment = yaml_string(f"experiment_id = {sql_string(payload)}")
    files["experiment.yaml"] = EXPERIMENT_YAML.format(assignment=assignment)
    return write_specs(folder, files)


def _assignments(run: Callable[[str], object], payload: str) -> None:
    run("CREATE TABLE app.assignments (user_id VARCHAR(20), assigned_ts TIMESTAMP, "
        "experiment_id VARCHAR(200), variant VARCHAR(20))")
    for i, (user, *_rest) in enumerate(EVENTS):
        experiment = payload if i % 3 else "another"
        run(f"INSERT INTO app.assignments VALUES ('{user}', TIMESTAMP '2026-03-01 09:00:00', "
            f"{sql_string(experiment)}, '{('control', 'treatment')[i % 2]}')")


def _assert_units(output: str) -> None:
    """The assignment filter's literal selected exactly the units assigned with it."""
    chosen = [i for i in range(len(EVENTS)) if i % 3]
    control = sum(1 for i in chosen if i % 2 == 0)
    srm = json.loads(output)["report"]["srm"]
    assert f"control {control}, treatment {len(chosen) - control}" in srm, srm


PAYLOAD = "'; DROP TABLE canary; --"


def test_run_command_on_duckdb(tmp_path: Path) -> None:
    database = tmp_path / "w.duckdb"
    duckdb_canaries(database)
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA app")
        con.execute(CREATE_EVENTS)
        _insert_events(con.execute)
        _assignments(con.execute, PAYLOAD)
    folder = _experiment_specs(tmp_path / "specs", PAYLOAD)
    code, output = cli("run", "e", "-s", str(folder), "-w", f"duckdb:///{database}",
                       "--format", "json")
    assert code in (0, 1), output  # 1: the decision may be "keep running"
    _assert_units(output)
    assert duckdb_counts(database) == CANARIES


def test_run_command_on_postgres(tmp_path: Path, postgres: Postgres) -> None:
    postgres_reset(postgres.url, ["CREATE SCHEMA app", CREATE_EVENTS])
    with connect(postgres.url) as conn:
        _insert_events(conn.execute)
        _assignments(conn.execute, PAYLOAD)
    folder = _experiment_specs(tmp_path / "specs", PAYLOAD)
    mark = postgres.mark()
    code, output = cli("run", "e", "-s", str(folder), "-w", postgres.url, "--format", "json")
    assert code in (0, 1), output
    _assert_units(output)
    ran = postgres.statements_since(mark)
    assert ran and all(_one_query(sql) for sql in ran), ran
    assert postgres_counts(postgres.url) == CANARIES
