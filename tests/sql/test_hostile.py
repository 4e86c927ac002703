"""Nothing a spec says can inject SQL.

Hostile text — quotes, backticks, `;`, `--`, `/*`, unicode and control characters — in
labels, descriptions, table paths and filter literals, and SQL keywords as names (names are
identifiers, MS207), either gets a diagnostic (the code is asserted) or compiles, in every
dialect, to SQL in which the text stays inside a quoted identifier or a string literal.
That is proved by parsing the SQL back with sqlglot in its own dialect: it is exactly one
SELECT, with no statement or clause that writes, and — compared with the SQL of the same
spec with plain names — the same tree, identifier for identifier and literal for literal, so
no part of the hostile text became SQL. The DuckDB SQL is also executed on tables whose
names contain those characters, and gives the right numbers.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from metricspec.backends import all_backends, get_backend
from metricspec.pipeline import Compiled, CompileError, compile_all, compile_object
from metricspec.workspace import Workspace

# ---------------------------------------------------------------- diagnostics

SOURCE = """source fb = table support.feedback {
  entity user_id: string
  time ts: timestamp
  dimension channel: string
  column thumbs: string, score: integer, experiment_id: string, variant: string
}
"""
REFUSED_FILTERS = [
    ("thumbs = 'up'; DROP TABLE x", "MS403"),
    ("thumbs = 'up'\n; DELETE FROM t", "MS403"),
    ("thumbs = 'up' -- DROP TABLE x", "MS403"),
    ("/* x */ thumbs = 'up'", "MS403"),
    ("thumbs IN (SELECT thumbs FROM support.feedback)", "MS403"),
    ("EXISTS (SELECT 1)", "MS403"),
    ("thumbs = 'up' UNION SELECT 1", "MS403"),
    ("thumbs = 'up' OR pg_sleep(10) IS NULL", "MS403"),
    ("thumbs = CHR(39)", "MS403"),
    ('"thumbs""; DROP TABLE x; --" = \'up\'', "MS405"),
    ("other.thumbs = 'up'", "MS405"),
    ("thumbs = `up`", "MS404"),
]


def _codes(folder: Path, files: dict[str, str]) -> list[str]:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return sorted({d.code for d in Workspace.load(folder).errors})


@pytest.mark.parametrize(("condition", "code"), REFUSED_FILTERS)
def test_hostile_metric_filter_is_a_diagnostic(tmp_path: Path, condition: str, code: str
                                               ) -> None:
    dsl = {"s.mspec": SOURCE + f"metric m = count(fb where {condition})\n"}
    yaml = {"s.mspec": SOURCE,
            "m.yaml": f"metrics:\n  m:\n    expr: {json.dumps(f'count(fb where {condition})')}\n"}
    assert _codes(tmp_path / "dsl", dsl) == [code]
    assert _codes(tmp_path / "yaml", yaml) == [code]


EXPERIMENT = """experiment e {{
  unit user_id
  assignment fb variant variant where {condition}
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary m
}}
metric m = count(fb)
"""


@pytest.mark.parametrize(("condition", "dsl_code", "yaml_code"), [
    # an assignment filter ends at `;` (in YAML too), so the rest is a syntax error
    ("experiment_id = 'e'; DROP TABLE x", "MS101", "MS101"),
    ("experiment_id = 'e' /* x */", "MS403", "MS403"),
    ("experiment_id IN (SELECT 1)", "MS403", "MS403"),
])
def test_hostile_assignment_filter_is_a_diagnostic(tmp_path: Path, condition: str,
                                                   dsl_code: str, yaml_code: str) -> None:
    dsl = {"s.mspec": SOURCE + EXPERIMENT.format(condition=condition)}
    codes = _codes(tmp_path / "dsl", dsl)
    assert dsl_code in codes, codes
    yaml = {"s.mspec": SOURCE + "metric m = count(fb)\n", "e.yaml": (
        "experiments:\n  e:\n    unit: user_id\n"
        f"    assignment: {{source: fb, variant: variant, where: {json.dumps(condition)}}}\n"
        "    variants: {control: 50%, treatment: 50%}\n    control: control\n"
        "    window: 2026-10-01 .. 2026-10-14\n    primary: m\n")}
    assert _codes(tmp_path / "yaml", yaml) == [yaml_code]


@pytest.mark.parametrize("query", [
    "SELECT * FROM support.feedback; DROP TABLE support.feedback",
    "DELETE FROM support.feedback",
    "SELECT * INTO stolen FROM support.feedback",
    "WITH d AS (DELETE FROM support.feedback RETURNING *) SELECT * FROM d",
])
def test_source_query_that_writes_is_refused(tmp_path: Path, query: str) -> None:
    """A source's query is one SELECT that writes nothing (MS415 from `check`)."""
    spec = (f"source q = query {json.dumps(query)} {{ entity user_id: string; "
            "time ts: timestamp }\nmetric n = count(q)\n")
    (tmp_path / "s.mspec").write_text(spec, encoding="utf-8")
    ws = Workspace.load(tmp_path, backends=[get_backend("duckdb"), get_backend("postgres")])
    assert {d.code for d in ws.errors} == {"MS415"}


@pytest.mark.parametrize("table", ["evil.support.feedback.x", "support..feedback"])
def test_table_name_must_have_one_to_three_parts(tmp_path: Path, table: str) -> None:
    """`a.b.c.d` used to lose its first part silently and read another table."""
    spec = ("sources:\n  q:\n    table: " + json.dumps(table) + "\n"
            "    entities: {user_id: string}\n    time: {ts: timestamp}\n"
            "metrics:\n  n: {expr: count(q)}\n")
    (tmp_path / "s.yaml").write_text(spec, encoding="utf-8")
    ws = Workspace.load(tmp_path, backends=list(all_backends().values()))
    assert {d.code for d in ws.errors} == {"MS416"}


NAME_CLASHES = """
source assignments = table s.assignments { entity user_id: string; time ts: timestamp
  dimension period: string, value: string; column variant: string }
source exposure = table s.exposure { entity user_id: string; time ts: timestamp
  column v: number }
metric spend = sum(exposure.v)
metric period = count(exposure)
metric exposed = count(assignments)
monitor by_value { metric exposed; every 1 hour; alert when above 1; dimensions value }
experiment e {
  unit user_id
  assignment assignments variant variant
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary spend
}
"""


def test_names_that_clash_with_generated_ones(tmp_path: Path) -> None:
    """A source called `exposure` is fine (its CTEs no longer meet the exposure CTEs); a
    metric, dimension or monitor dimension named like an output column is refused, instead
    of a query whose columns silently shadow each other."""
    (tmp_path / "s.mspec").write_text(NAME_CLASHES, encoding="utf-8")
    ws = Workspace.load(tmp_path, backends=list(all_backends().values()))
    failed = {(d.code, d.message.split("`")[1]) for d in ws.errors}
    assert failed == {("MS417", "period"), ("MS417", "value")}, ws.render("text")
    with pytest.raises(CompileError, match="dimension `period`"):
        compile_object(ws.index, "exposed", get_backend("duckdb"), dimensions=("period",))
    con = duckdb.connect()
    con.execute("CREATE SCHEMA s; CREATE TABLE s.assignments (user_id VARCHAR, ts TIMESTAMP, "
                "period VARCHAR, value VARCHAR, variant VARCHAR); CREATE TABLE s.exposure "
                "(user_id VARCHAR, ts TIMESTAMP, v DOUBLE)")
    con.execute(compile_object(ws.index, "e", get_backend("duckdb")).sql).fetchall()


# ---------------------------------------------------------------- hostile but valid

# Names are identifiers (MS207), so hostile names are SQL keywords that must be quoted;
# free text (labels, table paths, filter literals) carries the hostile characters.
HOSTILE = {
    "METRIC": "drop",
    "RATIO": "select",
    "ROLLING": "union",
    "CUMULATIVE": "where",
    "P90": "grant",
    "CONVERSION": "delete",
    "EXPERIMENT": "insert",
    "MONITOR": "truncate",
    "GUARDRAIL": "create",
    "KPI": "alter",
    "PARENT": "group",
    "SCHEMA": 'we`ird"sch',
    "TABLE": "ta\"ble; DROP TABLE y --",
    "ASSIGNED": "as'gn\"; --",
    "UNIT": "user",
    "TIME": "timestamp",
    "ASSIGNED_AT": "asof",
    "DIM": "order",
    "FLAG": "limit",
    "VARIANT_COLUMN": "having",
    "SEGMENT": "offset",
    "EXPERIMENT_ID": "null",
    "CONTROL": "true",
    "TREATMENT": "false",
    "LITERAL": "it's; DROP TABLE q; -- /* */ é\x01",
    "ASSIGNMENT_LITERAL": "e'x; DROP TABLE t --",
    "LABEL": "label '; DROP TABLE l; -- \"\u202e",
}
BENIGN = {key: f"hx{i:02d}" for i, key in enumerate(HOSTILE)}
TEMPLATE = """
sources:
  src:
    label: "{LABEL}"
    description: "{LABEL}"
    table: "{SCHEMA}.{TABLE}"
    entities: {{"{UNIT}": string}}
    time: {{"{TIME}": timestamp}}
    dimensions: {{"{DIM}": string}}
    columns: {{"{FLAG}": string, val: number}}
  asg:
    table: "{SCHEMA}.{ASSIGNED}"
    entities: {{"{UNIT}": string}}
    time: {{"{ASSIGNED_AT}": timestamp}}
    dimensions: {{"{SEGMENT}": string}}
    columns: {{"{EXPERIMENT_ID}": string, "{VARIANT_COLUMN}": string}}
metrics:
  "{METRIC}":
    label: "{LABEL}"
    description: "{LABEL}"
    expr: "count(src where \\"{FLAG|ident}\\" = '{LITERAL|literal}')"
  "{RATIO}":
    expr: "count(src where \\"{DIM|ident}\\" IS NOT NULL) / count(src)"
  "{ROLLING}":
    expr: "rolling(count(src where \\"{FLAG|ident}\\" = '{LITERAL|literal}'), 2 days)"
  "{CUMULATIVE}":
    expr: "cumulative(sum(src.val))"
  "{P90}":
    expr: "p90(src.val)"
  "{CONVERSION}":
    expr: "conversion(asg -> src where \\"{FLAG|ident}\\" = '{LITERAL|literal}', within 1 day)"
  up:
    expr: "count(src where \\"{FLAG|ident}\\" = '{LITERAL|literal}')"
  everything:
    expr: "count(src)"
  "{PARENT}":
    expr: "count(src where \\"{FLAG|ident}\\" = '{LITERAL|literal}') / count(src)"
experiments:
  "{EXPERIMENT}":
    label: "{LABEL}"
    unit: "{UNIT}"
    assignment:
      source: asg
      variant: "{VARIANT_COLUMN}"
      where: "\\"{EXPERIMENT_ID|ident}\\" = '{ASSIGNMENT_LITERAL|literal}'"
    variants: {{"{CONTROL}": 50%, "{TREATMENT}": 50%}}
    control: "{CONTROL}"
    window: 2026-10-01 .. 2026-10-14
    primary: "{RATIO}"
    secondary: ["{METRIC}", "{P90}", "{CONVERSION}"]
    segments: ["{SEGMENT}"]
    cuped: 7 days
    winsorize: {{"{METRIC}": 90%}}
monitors:
  "{MONITOR}":
    description: "{LABEL}"
    metric: "{RATIO}"
    every: 1 hour
    baseline: trailing 3 hours
    alert: below baseline by 10%
    min_n: 1
    dimensions: ["{DIM}"]
guardrails:
  "{GUARDRAIL}":
    condition: everything <= 5
    every: 1 day
kpis:
  "{KPI}":
    description: "{LABEL}"
    north_star: "{PARENT}"
    edges:
      "{PARENT}": ratio(up, everything)
"""


def spec_text(values: dict[str, str]) -> str:
    """The template with each placeholder replaced, escaped for where it sits: a YAML
    double-quoted scalar, and inside it possibly a SQL identifier or string literal."""
    def fill(match: re.Match[str]) -> str:
        key, _, how = match.group(1).partition("|")
        value = values[key]
        if how == "ident":
            value = value.replace('"', '""')
        elif how == "literal":
            value = value.replace("'", "''")
        escaped = json.dumps(value, ensure_ascii=True)[1:-1]
        # inside the template's `\\"…\\"` the SQL quote is itself escaped once more
        return escaped

    text = re.sub(r"(?<!\{)\{([A-Z0-9_]+(?:\|\w+)?)\}(?!\})", fill, TEMPLATE)
    return text.replace("{{", "{").replace("}}", "}")


def _compile(tmp: Path, values: dict[str, str], file_name: str = "spec.yaml"
             ) -> tuple[Workspace, list[Compiled]]:
    tmp.mkdir()
    (tmp / file_name).write_text(spec_text(values), encoding="utf-8")
    with contextlib.chdir(tmp):
        ws = Workspace.load(Path("."))
    assert ws.ok, ws.render("text")
    queries, failed = compile_all(ws.index, all_backends().values(), per_metric=True)
    assert not failed, [str(f) for f in failed]
    return ws, queries


@pytest.fixture(scope="module")
def hostile_spec(tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[Workspace, list[Compiled]]:
    return _compile(tmp_path_factory.mktemp("hostile") / "spec", HOSTILE)


@pytest.fixture(scope="module")
def twins(hostile_spec, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[list[Compiled], list[Compiled]]:
    _, hostile = hostile_spec
    _, benign = _compile(tmp_path_factory.mktemp("benign") / "spec", BENIGN)
    assert len(hostile) == len(benign) == len(all_backends()) * 15  # 13 objects, 2 groups
    return hostile, benign


def test_hostile_spec_loads_with_its_names_intact(hostile_spec) -> None:
    index = hostile_spec[0].index
    assert HOSTILE["METRIC"] in index.metrics and HOSTILE["EXPERIMENT"] in index.experiments
    assert index.sources["src"].table == (HOSTILE["SCHEMA"], HOSTILE["TABLE"])
    assert index.metrics[HOSTILE["METRIC"]].label == HOSTILE["LABEL"]


WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter,
          exp.Command, exp.TruncateTable, exp.Into, exp.Copy, exp.Block)


def _unmap(text: str) -> str:
    """Hostile spec text replaced by its plain twin; a name also when a warehouse folded
    its case (Snowflake upper-cases simple names)."""
    for key in sorted(HOSTILE, key=lambda k: -len(HOSTILE[k])):
        value = HOSTILE[key]
        if re.fullmatch(r"[a-z_]+", value):
            text = re.sub(rf"(?i)(?<![A-Za-z0-9]){value}(?![A-Za-z0-9])", BENIGN[key], text)
        else:
            text = text.replace(value, BENIGN[key])
    return text


@pytest.fixture(scope="module")
def parsed(twins) -> list[tuple[Compiled, list[exp.Expr], exp.Expr]]:
    """Each hostile query, its statements parsed back in its dialect, and its plain twin's
    tree."""
    hostile, benign = twins
    plain = {(q.backend.name, q.kind, q.name): q for q in benign}
    out = []
    for query in hostile:
        dialect = query.backend.sqlglot_dialect
        twin = plain[(query.backend.name, query.kind, _unmap(query.name))]
        out.append((query, sqlglot.parse(query.sql, read=dialect),
                    sqlglot.parse_one(twin.sql, read=dialect)))
    return out


def _shape(tree: exp.Expr, hostile: bool) -> str:
    """The tree as SQL with every identifier quoted and lower-cased, every spec string
    replaced by its plain twin, and comments dropped (in place)."""
    for node in tree.walk():
        node.comments = None
        if isinstance(node, exp.Identifier):
            text = _unmap(node.this) if hostile else node.this
            node.set("this", text.lower())
            node.set("quoted", True)
        elif isinstance(node, exp.Literal) and node.is_string:
            node.set("this", _unmap(node.this) if hostile else node.this)
    return tree.sql(dialect="duckdb")


def test_hostile_sql_parses_as_the_same_single_select(parsed) -> None:
    for query, statements, twin in parsed:
        assert len(statements) == 1 and isinstance(statements[0], exp.Select), query.path
        tree = statements[0]
        assert not any(isinstance(node, WRITES) for node in tree.walk()), query.path
        if query.kind == "metrics":
            continue  # a source group lists its metrics by name, so the twins' order differs
        assert _shape(tree.copy(), hostile=True) == _shape(twin.copy(), hostile=False), (
            query.path)


def test_hostile_text_only_in_quoted_identifiers_and_literals(parsed) -> None:
    """Every unquoted identifier is a plain name metricspec chose, never a keyword: spec
    text appears only inside quoted identifiers and string literals."""
    keywords = {"DROP", "DELETE", "INSERT", "UPDATE", "TRUNCATE", "ALTER", "CREATE", "MERGE"}
    for query, (tree,), _ in parsed:
        for node in tree.find_all(exp.Identifier):
            if not node.quoted:
                assert node.this.upper() not in keywords, (query.path, node.this)
                assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", node.this), (query.path, node)


def test_header_stays_a_comment(twins) -> None:
    """The header names the object even when its name holds newlines and comment marks."""
    hostile, _ = twins
    for query in hostile:
        lines = query.sql.splitlines()
        body = next(i for i, line in enumerate(lines) if not line.startswith("-- "))
        assert body >= 3 and lines[body].startswith(("WITH", "SELECT")), query.path
        assert all(line.isprintable() for line in lines[:body]), query.path


def test_hostile_file_name(tmp_path: Path) -> None:
    """A spec file whose name holds a newline and SQL still gives one SELECT."""
    folder = tmp_path / "specs"
    folder.mkdir()
    name = "we'ird\n DROP TABLE f; -- *\\.mspec"
    (folder / name).write_text(SOURCE + 'metric m "l\'; --" = count(fb where thumbs = \'a;b\')\n',
                               encoding="utf-8")
    ws = Workspace.load(folder)
    assert ws.ok, ws.render("text")
    for backend in all_backends().values():
        sql = compile_object(ws.index, "m", backend).sql
        statements = sqlglot.parse(sql, read=backend.sqlglot_dialect)
        assert len(statements) == 1 and isinstance(statements[0], exp.Select)
        assert "we'ird? DROP TABLE f; -- *\\.mspec" in sql.splitlines()[1]


# ---------------------------------------------------------------- executed on DuckDB


def _q(*parts: str) -> str:
    """A quoted (qualified) name, built by sqlglot."""
    return ".".join(exp.to_identifier(p, quoted=True).sql("duckdb") for p in parts)


@pytest.fixture(scope="module")
def hostile_db(twins) -> duckdb.DuckDBPyConnection:
    h = HOSTILE
    con = duckdb.connect()
    for canary in ("t", "y", "z", "q", "v", "w", "c", "g", "l", "f"):
        con.execute(f"CREATE TABLE {canary} (x INTEGER)")
    con.execute(f"CREATE SCHEMA {_q(h['SCHEMA'])}")
    con.execute(f"CREATE TABLE {_q(h['SCHEMA'], h['TABLE'])} ({_q(h['UNIT'])} VARCHAR, "
                f"{_q(h['TIME'])} TIMESTAMP, {_q(h['DIM'])} VARCHAR, {_q(h['FLAG'])} VARCHAR, "
                "val DOUBLE)")
    con.execute(f"CREATE TABLE {_q(h['SCHEMA'], h['ASSIGNED'])} ({_q(h['UNIT'])} VARCHAR, "
                f"{_q(h['ASSIGNED_AT'])} TIMESTAMP, {_q(h['SEGMENT'])} VARCHAR, "
                f"{_q(h['EXPERIMENT_ID'])} VARCHAR, {_q(h['VARIANT_COLUMN'])} VARCHAR)")
    events = pd.DataFrame({
        "unit": ["a", "a", "b", "b", "c", "d", "d", "e"],
        "ts": pd.to_datetime(["2026-10-02 10:00", "2026-10-02 11:30", "2026-10-02 10:15",
                              "2026-10-03 09:00", "2026-10-03 12:00", "2026-10-04 08:00",
                              "2026-09-28 08:00", "2026-10-04 09:00"]),
        "dim": ["x;y", None, "x;y", "☃", "☃", None, "x;y", "x;y"],
        "flag": [h["LITERAL"], "other", h["LITERAL"], h["LITERAL"], "other", h["LITERAL"],
                 h["LITERAL"], None],
        "val": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
    })
    assignments = pd.DataFrame({
        "unit": ["a", "b", "c", "d", "e"],
        "at": pd.to_datetime(["2026-10-02 09:00", "2026-10-02 09:30", "2026-10-03 11:00",
                              "2026-10-03 07:00", "2026-10-04 08:30"]),
        "segment": ["web", "ios", "web", "ios", "web"],
        "experiment": [h["ASSIGNMENT_LITERAL"]] * 4 + ["other"],
        "variant": [h["CONTROL"], h["TREATMENT"], h["CONTROL"], h["TREATMENT"], h["CONTROL"]],
    })
    con.register("events", events)
    con.register("assigned", assignments)
    con.execute(f"INSERT INTO {_q(h['SCHEMA'], h['TABLE'])} SELECT * FROM events")
    con.execute(f"INSERT INTO {_q(h['SCHEMA'], h['ASSIGNED'])} SELECT * FROM assigned")
    return con


def _run(con: duckdb.DuckDBPyConnection, twins, name: str) -> pd.DataFrame:
    hostile, _ = twins
    (query,) = [q for q in hostile if q.name == name and q.backend.name == "duckdb"]
    return con.execute(query.sql).df()


def test_hostile_sql_runs_on_hostile_tables(hostile_db, twins) -> None:
    h, con = HOSTILE, hostile_db
    up = _run(con, twins, h["METRIC"])
    assert up.columns.tolist() == ["period", h["METRIC"]]
    days = up.set_index(up.period.dt.strftime("%m-%d"))[h["METRIC"]].to_dict()
    # a dense series: the days without events count 0
    assert days == {"09-28": 1, "09-29": 0, "09-30": 0, "10-01": 0, "10-02": 2, "10-03": 1,
                    "10-04": 1}
    ratio = _run(con, twins, h["RATIO"]).set_index("period")[h["RATIO"]]
    assert ratio.isna().tolist() == [False, True, True, True, False, False, False]
    assert ratio.dropna().tolist() == pytest.approx([1.0, 2 / 3, 1.0, 0.5])
    rolling = _run(con, twins, h["ROLLING"])
    assert rolling[h["ROLLING"]].tolist() == [1, 1, 0, 0, 2, 3, 2]
    cumulative = _run(con, twins, h["CUMULATIVE"])[h["CUMULATIVE"]].tolist()
    assert cumulative == [7.0, 7.0, 7.0, 7.0, 13.0, 22.0, 36.0]
    p90 = _run(con, twins, h["P90"])
    assert p90[h["P90"]].isna().sum() == 3  # no events, no percentile
    assert p90[h["P90"]].dropna().tolist() == pytest.approx([7.0, 2.8, 4.9, 7.8])
    # a thumbs-up (the hostile literal) within a day of a unit's exposure
    conversion = _run(con, twins, h["CONVERSION"])
    assert conversion[h["CONVERSION"]].tolist() == pytest.approx([1.0, 0.0, 0.0])
    rows = _run(con, twins, h["EXPERIMENT"])
    units = rows[(rows.metric == "__units__") & (rows.segment == "all")]
    assert dict(zip(units.variant, units.n, strict=True)) == {
        h["CONTROL"]: 2, h["TREATMENT"]: 2, "__multiple__": 0}
    assert set(rows.metric) >= {h["RATIO"], h["METRIC"], h["P90"], h["CONVERSION"]}
    assert set(rows.segment_value.dropna()) == {"web", "ios"}
    for name in (h["MONITOR"], h["GUARDRAIL"], h["KPI"]):
        _run(con, twins, name)
    canaries = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()}
    assert {"t", "y", "z", "q", "v", "w", "c", "g", "l", "f"} <= canaries


DSL_METRICS = """
# labels, descriptions and filter literals written in the DSL
metric dsl_up "it's \\"up\\"; DROP TABLE l; -- /* ☃" =
  count(src where "{flag}" = '{literal}' and "{dim}" <> 'a--b/*c*/;d') {{
  description \"\"\"multi-line
  */ DROP TABLE d; /* "quoted" \u202e\"\"\"
}}
"""


def test_dsl_labels_and_literals_stay_literals(tmp_path: Path, hostile_db) -> None:
    h = HOSTILE
    folder = tmp_path / "specs"
    folder.mkdir()
    sources = spec_text(HOSTILE).split("metrics:")[0]
    (folder / "sources.yaml").write_text(sources, encoding="utf-8")
    (folder / "quality.mspec").write_text(DSL_METRICS.format(
        flag=h["FLAG"].replace('"', '""'), dim=h["DIM"].replace('"', '""'),
        literal=h["LITERAL"].replace("'", "''")), encoding="utf-8")
    ws = Workspace.load(folder)
    assert ws.ok, ws.render("text")
    assert ws.index.metrics["dsl_up"].label == 'it\'s "up"; DROP TABLE l; -- /* ☃'
    for backend in all_backends().values():
        sql = compile_object(ws.index, "dsl_up", backend).sql
        (tree,) = sqlglot.parse(sql, read=backend.sqlglot_dialect)
        assert isinstance(tree, exp.Select)
        assert not any(isinstance(node, WRITES) for node in tree.walk())
        literals = {n.this for n in tree.find_all(exp.Literal) if n.is_string}
        assert {h["LITERAL"], "a--b/*c*/;d"} <= literals, backend.name
        assert "DROP TABLE l" not in sql and "DROP TABLE d" not in sql
    sql = compile_object(ws.index, "dsl_up", get_backend("duckdb")).sql
    counts = hostile_db.execute(sql).df()
    # rows with the literal and a dimension, every day of the range (no rows: 0)
    assert counts.dsl_up.tolist() == [1, 0, 0, 0, 2, 1, 0]


def test_window_bounds_are_not_text(twins) -> None:
    """Dates reach the SQL as typed literals built by metricspec, not spec text."""
    hostile, _ = twins
    (query,) = [q for q in hostile if q.kind == "experiment" and q.backend.name == "duckdb"]
    tree = sqlglot.parse_one(query.sql, read="duckdb")
    stamps = {c.this.name for c in tree.find_all(exp.Cast) if c.to.sql("duckdb") == "TIMESTAMP"}
    # the window 2026-10-01 .. 2026-10-14 ends before the 15th; CUPED reads 7 days earlier
    assert {"2026-10-01 00:00:00", "2026-10-15 00:00:00", "2026-09-24 00:00:00"} <= stamps
