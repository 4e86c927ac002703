"""Source queries: what a `query` source may be, judged once and shared by `check` (which
reports the problems, MS415/MS702) and the emitter (which embeds the parsed query).

A source query is exactly one read-only query — a `SELECT` (with `WITH`, set operations and
subqueries) — judged by a closed list of node types allowed at the top and as the body of
every CTE and subquery, never by a list of known writes, and without functions that act
beyond reading the warehouse's tables.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

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


UNPARSED = "does not parse"


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
    return read_source_query(query, dialect)[1]


@lru_cache(maxsize=1024)
def read_source_query(query: str, dialect: str) -> tuple[exp.Query | None, str | None]:
    """The query parsed in `dialect` (shared: copy it before changing it), or None with the
    reason it is not one read-only query."""
    sqlglot_log = logging.getLogger("sqlglot")
    level = sqlglot_log.level
    sqlglot_log.setLevel(logging.CRITICAL)  # "falling back to a Command" is our finding
    try:
        statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
    except (SqlglotError, RecursionError, ValueError):
        return None, UNPARSED
    finally:
        sqlglot_log.setLevel(level)
    if not statements:
        return None, "is empty"
    if len(statements) > 1:
        return None, f"is {len(statements)} statements, not one"
    top = statements[0]
    if isinstance(top, _EXPRESSIONS) and not isinstance(top, exp.Query):
        return None, UNPARSED  # the dialect reads the text as an expression, not a statement
    if not _allowed(top, READ_ONLY_QUERIES) or not isinstance(top, exp.Query):
        return None, f"is {_article(_kind(top))}, not a SELECT"
    for node in top.walk():
        called = _called(node)
        if called is not None:
            return None, (f"calls `{called}`, which acts beyond reading the warehouse's "
                          "tables (files, SQL text, server state)")
        if isinstance(node, _NEVER):
            return None, f"contains {_article(_kind(node))}, which is not a read"
        body = node.this if isinstance(node, (exp.CTE, exp.Subquery)) else None
        if isinstance(body, exp.Expr) and not _allowed(body, ROW_SOURCES):
            return None, f"contains {_article(_kind(body))}, which is not a read"
    return top, None

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
