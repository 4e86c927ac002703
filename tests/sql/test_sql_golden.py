"""Golden SQL: the objects of `specs/` compiled, compared byte for byte with
`tests/sql/golden/<dialect>/<kind>s/<name>.sql`.

DuckDB, the reference dialect, has a golden file for every object. Every other dialect has
one representative object (`REPRESENTATIVE`), chosen so that each kind of object is seen in
some dialect other than DuckDB; what each construct becomes in each dialect is the
capability table's test, and every object is still compiled for every dialect here (parsed
back, its header checked, compiled twice). A change to the emitter shows up as a diff of the
golden files; review it, then regenerate them with

    pytest tests/sql --update-golden            # or, with any pytest arguments:
    METRICSPEC_UPDATE_GOLDEN=1 pytest tests/sql

and commit the new files with the change. Also checked: compiling is deterministic (in
this process in reverse order, and `metricspec compile` in a subprocess with another hash
seed, all byte-identical), every query parses back as one SELECT in its own dialect,
and its header names the object and the spec file it comes from.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from sql_paths import UPDATE_ENV
from sqlglot import exp

from metricspec.backends import all_backends
from metricspec.pipeline import Compiled, compile_all, compile_object
from metricspec.semantic import Index

GOLDEN = Path(__file__).parent / "golden"
DIALECTS = tuple(all_backends())
REFERENCE = "duckdb"
#: The one golden file of each other dialect, each of another kind: PostgreSQL the richest
#: experiment (ranks, conversions, CUPED; no GROUP BY ALL, integer division truncates),
#: BigQuery a metric group with a percentile (APPROX_QUANTILES, SAFE_DIVIDE), Snowflake a
#: monitor (QUALIFY, upper-case names, no FILTER clause), Spark the KPI tree (PERCENTILE).
REPRESENTATIVE = {
    "postgres": "experiments/summarizer_v2.sql",
    "bigquery": "metrics/messages.sql",
    "snowflake": "monitors/hallucination_spike.sql",
    "spark": "kpis/support_cost_reduction.sql",
}
#: The representative of a dialect not listed above.
DEFAULT_REPRESENTATIVE = "experiments/summarizer_v2.sql"


def has_golden(query: Compiled) -> bool:
    """Whether a compiled query is compared with a golden file."""
    dialect = query.backend.name
    if dialect == REFERENCE:
        return True
    return query.path == f"{dialect}/{REPRESENTATIVE.get(dialect, DEFAULT_REPRESENTATIVE)}"


@pytest.fixture(scope="module")
def compiled(index: Index) -> list[Compiled]:
    """Every object for every dialect, compiled in this process in the reverse of the CLI's
    order, so state leaking from one compilation into the next shows up as a difference."""
    backends = list(all_backends().values())[::-1]
    queries, failed = compile_all(index, backends)
    assert not failed, [str(f) for f in failed]
    return sorted(queries, key=lambda q: q.path)


def _golden_files(dialect: str) -> dict[str, bytes]:
    root = GOLDEN / dialect
    return {p.relative_to(GOLDEN).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.sql"))}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_golden_sql(compiled: list[Compiled], update_golden: bool, dialect: str) -> None:
    expected = {q.path: q.sql.encode("utf-8") for q in compiled
                if q.backend.name == dialect and has_golden(q)}
    if update_golden:
        for stale in set(_golden_files(dialect)) - set(expected):
            (GOLDEN / stale).unlink()
        for path, text in expected.items():
            target = GOLDEN / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or target.read_bytes() != text:
                target.write_bytes(text)
    found = _golden_files(dialect)
    hint = f"review the change, then run `pytest tests/sql --update-golden` ({UPDATE_ENV}=1)"
    assert sorted(found) == sorted(expected), f"golden files added or removed; {hint}"
    changed = [path for path, text in expected.items() if found[path] != text]
    assert not changed, f"generated SQL differs from {changed}; {hint}"


def test_every_object_has_golden_sql_for_the_reference_dialect(index: Index) -> None:
    """Experiments, monitors, guardrails and KPI trees have a DuckDB file each; metrics are
    compiled per source group, and every metric is listed in exactly one group's header.
    Every other dialect has exactly its representative."""
    names = {*index.experiments, *index.monitors, *index.guardrails, *index.kpis}
    stems = {p.stem for p in (GOLDEN / REFERENCE).rglob("*.sql") if p.parent.name != "metrics"}
    assert stems == names
    listed: list[str] = []
    for path in (GOLDEN / REFERENCE / "metrics").glob("*.sql"):
        header = next(line for line in path.read_text().splitlines()
                      if line.startswith("-- metrics: "))
        listed += header[len("-- metrics: "):].split(", ")
    assert sorted(listed) == sorted(index.metrics)
    for dialect in DIALECTS:
        if dialect != REFERENCE:
            found = [p.relative_to(GOLDEN / dialect).as_posix()
                     for p in (GOLDEN / dialect).rglob("*.sql")]
            assert found == [REPRESENTATIVE.get(dialect, DEFAULT_REPRESENTATIVE)], dialect


@pytest.mark.slow
def test_cli_compile_is_byte_identical_across_runs(cli_builds, compiled) -> None:
    """`metricspec compile specs --dialect all`, in a fresh interpreter with a fixed hash
    seed (this process has a random one), writes the files this process compiled in another
    order, and the golden files."""
    (built,) = cli_builds
    sql = {path: text for path, text in built.items() if path.endswith(".sql")}
    assert sql == {q.path: q.sql.encode("utf-8") for q in compiled}
    golden = {p.relative_to(GOLDEN).as_posix(): p.read_bytes() for p in GOLDEN.rglob("*.sql")}
    assert golden == {path: text for path, text in sql.items() if path in golden}


def test_compiling_again_in_process_gives_identical_sql(index: Index, compiled) -> None:
    """A second compilation in the same process (after every object was compiled once, so
    any cache is warm) gives the same bytes: the experiments and monitors, which share the
    most planning, for every dialect."""
    first = {q.path: q.sql for q in compiled}
    for backend in all_backends().values():
        for name in (*index.experiments, *index.monitors, *index.guardrails, *index.kpis):
            again = compile_object(index, name, backend)
            assert again.sql == first[again.path], again.path


def test_every_query_parses_back_as_one_select(compiled: list[Compiled]) -> None:
    for query in compiled:
        statements = sqlglot.parse(query.sql, read=query.backend.sqlglot_dialect)
        assert len(statements) == 1, query.path
        assert isinstance(statements[0], exp.Select), query.path


def test_header_names_the_object_and_its_file(index: Index, compiled) -> None:
    tables = {"metric": index.metrics, "experiment": index.experiments,
              "monitor": index.monitors, "guardrail": index.guardrails, "kpi": index.kpis}
    for query in compiled:
        first, second, third = query.sql.splitlines()[:3]
        if query.kind == "metrics":  # a source group: its header lists its metrics
            assert first == f"-- metricspec metric query `{query.name}`", query.path
            metric = next(line for line in query.sql.splitlines()
                          if line.startswith("-- metrics: "))[12:].split(", ")[0]
            source = index.metrics[metric].span.file
            assert source in second[9:].split(", "), query.path
            continue
        assert first == f"-- metricspec {query.kind} `{query.name}`", query.path
        source = tables[query.kind][query.name].span.file
        assert second.startswith("-- from: ") and source in second[9:].split(", "), query.path
        assert source.startswith("specs/"), source
        assert third.startswith(f"-- dialect: {query.backend.name} "), query.path
