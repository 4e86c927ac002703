"""Source rules: what a source reads must be something every stage after `check` can use.

- MS415: a `query` source is exactly one read-only query — a `SELECT` (with `WITH`, set
  operations and subqueries) — judged by a closed list of node types allowed at the top and
  as the body of every CTE and subquery, never by a list of known writes. It is parsed as
  the SQL of every backend: a query that is not read-only for any of them is an error; one
  that some backends cannot parse is MS702 (a warning naming them, or an error for a
  backend chosen with `--dialect`).
- MS416: a `table` path is `[catalog.][schema.]table`, with no empty part.
- MS516: an experiment's assignment source has a time column (exposures are ordered by it).

The emitter re-judges source queries with `source_query_problem` before embedding one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from metricspec import ir
from metricspec.backends import Backend, all_backends
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, error, warning

# What a source query may be: one SELECT or a set operation of them (a parenthesised one
# parses as a Subquery). The same list applies to every CTE and subquery body inside it.
READ_ONLY_QUERIES: tuple[type[exp.Expr], ...] = (exp.Select, exp.SetOperation, exp.Subquery)
# Bodies of FROM items that only produce rows (`FROM (VALUES (1, 2)) AS t`).
ROW_SOURCES: tuple[type[exp.Expr], ...] = (*READ_ONLY_QUERIES, exp.Values)
# Clauses of a SELECT that change the warehouse: `SELECT … INTO t` creates a table, `FOR
# UPDATE` takes locks, `RETURNING` only exists on writes. Statement nodes (DML, DDL, and
# what sqlglot could not parse) are refused wherever they appear.
_NEVER: tuple[type[exp.Expr], ...] = (exp.Into, exp.Lock, exp.Returning, exp.Command, exp.DML,
                                      exp.DDL)
# What a dialect that does not know a statement may read its words as (`TABLE t` is the
# column `TABLE` aliased `t` in some): not a statement, so not a query of that dialect.
_EXPRESSIONS: tuple[type[exp.Expr], ...] = (exp.Condition, exp.Alias, exp.Func)
MAX_TABLE_PARTS = 3  # catalog.schema.table
# Functions a read-only SELECT can still call to act outside the rows it reads: run SQL
# text (`query`, `query_to_xml`), read files or other systems (`read_csv`, `pg_read_file`,
# `EXTERNAL_QUERY`), call into the JVM (`reflect`), change server or session state
# (`pg_terminate_backend`, `set_config`, `nextval`) or stall the warehouse (`pg_sleep`).
# Lower-case names as written; `system$…` (Snowflake's administrative functions) by prefix.
UNSAFE_FUNCTIONS: frozenset[str] = frozenset({
    # SQL text executed by a function
    "query", "query_table", "query_to_xml", "query_to_xml_and_xmlschema", "query_to_json",
    "cursor_to_xml", "dblink", "dblink_exec", "dblink_connect", "dblink_send_query",
    "external_query", "execute_immediate",
    # files, URLs and the environment
    "read_csv", "read_csv_auto", "read_json", "read_json_auto", "read_ndjson",
    "read_ndjson_auto", "read_json_objects", "read_text", "read_blob", "read_parquet",
    "parquet_scan", "read_xlsx", "sniff_csv", "glob", "getenv", "pg_read_file",
    "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir", "pg_ls_waldir",
    "lo_import", "lo_export", "lo_get", "lo_open", "input_file_name",
    # server and session state
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
    "pg_switch_wal", "pg_promote", "pg_create_restore_point", "pg_logical_emit_message",
    "set_config", "nextval", "setval", "lo_create", "lo_unlink", "lo_put", "lo_from_bytea",
    "pg_advisory_lock", "pg_advisory_xact_lock", "pg_try_advisory_lock",
    # the JVM (Spark)
    "reflect", "java_method", "try_reflect",
    # stalls
    "pg_sleep", "pg_sleep_for", "pg_sleep_until", "sleep", "benchmark",
})
UNSAFE_PREFIXES: tuple[str, ...] = ("system$",)


def rule_sources(ctx: Context) -> Iterator[Diagnostic]:
    chosen = {b.name for b in ctx.backends}
    for source in ctx.project.sources:
        if source.table is not None:
            yield from _table(source.name, source.table, source.span)
        if source.query is not None:
            yield from _query(source.name, source.query, source.span, chosen)


def rule_assignment_time(ctx: Context) -> Iterator[Diagnostic]:
    for exp_ in ctx.project.experiments:
        if exp_.assignment is None:
            continue
        source = ctx.index.sources.get(exp_.assignment.source.name)
        if source is not None and source.time is None:
            yield error("MS516", f"the assignment source `{source.name}` has no time column, so "
                        "exposures cannot be ordered or bounded by the window",
                        exp_.assignment.source.span,
                        f"declare `time <column>` (the exposure time) in source `{source.name}`")


def _table(name: str, table: tuple[str, ...], span: ir.Span) -> Iterator[Diagnostic]:
    shown = ".".join(table)
    if not table or not all(part.strip() for part in table):
        yield error("MS416", f"the table of source `{name}` has an empty part: `{shown}`",
                    span,
                    "write it as [catalog.][schema.]table")
    elif len(table) > MAX_TABLE_PARTS:
        yield error("MS416", f"the table of source `{name}` has {len(table)} parts: `{shown}`",
                    span,
                    "write it as [catalog.][schema.]table (at most three parts)")


def _query(name: str, query: str, span: ir.Span, chosen: set[str]) -> Iterator[Diagnostic]:
    unparsed: list[Backend] = []
    parsed = 0
    for backend in all_backends().values():
        problem = source_query_problem(query, backend.sqlglot_dialect)
        if problem is None:
            parsed += 1
        elif problem == UNPARSED:
            unparsed.append(backend)
        else:
            yield error("MS415", f"the query of source `{name}` {problem}",
                        span,
                        "make a view of it in the warehouse and read that with `table`"
                        if problem.startswith("calls") else
                        "a source query is one SELECT (optionally with WITH) that reads")
            return
    if not parsed:
        yield error("MS415", f"the query of source `{name}` does not parse as SQL",
                    span,
                    "a source query is one SELECT (optionally with WITH) that reads")
        return
    if unparsed:
        failing = [b for b in unparsed if b.name in chosen]
        others = [b for b in unparsed if b.name not in chosen]
        if failing:
            yield error("MS702", f"the query of source `{name}` does not parse as "
                        f"{_titles(failing)} SQL", span,
                        "write it in SQL that warehouse reads")
        if others and not chosen:
            yield warning("MS702", f"the query of source `{name}` does not parse as "
                          f"{_titles(others)} SQL: it cannot be compiled for "
                          f"{'it' if len(others) == 1 else 'them'}",
                          span)


def _titles(backends: list[Backend]) -> str:
    return ", ".join(b.title for b in backends)


UNPARSED = "does not parse"


@lru_cache(maxsize=1024)
def source_query_problem(query: str, dialect: str) -> str | None:
    """Why `query` (read as `dialect`) is not one read-only query, or None when it is.

    >>> source_query_problem("WITH a AS (SELECT 1 AS x) SELECT x FROM a", "duckdb") is None
    True
    >>> source_query_problem("SELECT 1; DROP TABLE t", "duckdb")
    'is 2 statements, not one'
    >>> source_query_problem("DELETE FROM t", "postgres")
    'is a DELETE, not a SELECT'
    >>> source_query_problem("SELECT * FROM read_csv('/etc/passwd')", "duckdb")[:16]
    'calls `read_csv`'
    """
    sqlglot_log = logging.getLogger("sqlglot")
    level = sqlglot_log.level
    sqlglot_log.setLevel(logging.CRITICAL)  # "falling back to a Command" is our finding
    try:
        statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
    except (SqlglotError, RecursionError, ValueError):
        return UNPARSED
    finally:
        sqlglot_log.setLevel(level)
    if not statements:
        return "is empty"
    if len(statements) > 1:
        return f"is {len(statements)} statements, not one"
    top = statements[0]
    if isinstance(top, _EXPRESSIONS) and not isinstance(top, exp.Query):
        return UNPARSED  # this dialect reads the text as a bare expression, not a statement
    if not _allowed(top, READ_ONLY_QUERIES):
        return f"is {_article(_kind(top))}, not a SELECT"
    for node in top.walk():
        called = _called(node)
        if called is not None:
            return (f"calls `{called}`, which acts beyond reading the warehouse's tables "
                    "(files, SQL text, server state)")
        if isinstance(node, _NEVER):
            return f"contains {_article(_kind(node))}, which is not a read"
        body = node.this if isinstance(node, (exp.CTE, exp.Subquery)) else None
        if isinstance(body, exp.Expr) and not _allowed(body, ROW_SOURCES):
            return f"contains {_article(_kind(body))}, which is not a read"
    return None


def _called(node: exp.Expr) -> str | None:
    """The name of an unsafe function `node` calls, as written, or None."""
    if not isinstance(node, exp.Func):
        return None
    name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
    if name in UNSAFE_FUNCTIONS or name.startswith(UNSAFE_PREFIXES):
        return name
    return None


def _allowed(node: exp.Expr, kinds: tuple[type[exp.Expr], ...]) -> bool:
    if isinstance(node, exp.Subquery):
        inner = node.this
        return isinstance(inner, exp.Expr) and _allowed(inner, kinds)
    return isinstance(node, kinds) and not isinstance(node, _NEVER)


def _kind(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return f"{str(node.this).upper()} command"
    if isinstance(node, exp.Into):
        return "SELECT … INTO"
    if isinstance(node, exp.Lock):
        return "FOR UPDATE/SHARE lock"
    return type(node).__name__.upper()


def _article(kind: str) -> str:
    return ("an " if kind.startswith(("A", "E", "I", "O", "UPD")) else "a ") + kind
