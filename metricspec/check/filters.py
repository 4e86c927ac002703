"""Filters: `where` conditions are SQL, parsed by sqlglot and restricted to a safe subset.

Allowed: columns of the source, literals, comparisons, AND/OR/NOT, IN (a list), BETWEEN,
LIKE/ILIKE, IS [NOT] NULL, CASE, arithmetic and a short list of scalar functions. Anything
else — subqueries, DDL, several statements, comments, unknown functions — is a diagnostic.
The planner re-uses `parse_filter` to embed the checked tree; it never sees raw text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token as SqlToken

from metricspec import ir
from metricspec.diagnostics import Diagnostic, did_you_mean, error
from metricspec.semantic import Index

ALLOWED_NODES: tuple[type[exp.Expr], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren,
    exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Is,
    exp.In, exp.Between, exp.Like, exp.ILike, exp.Case, exp.If, exp.Neg, exp.Add, exp.Sub,
    exp.Mul, exp.Div, exp.Mod, exp.Cast, exp.TryCast, exp.DataType, exp.Tuple,
    # scalar functions
    exp.Lower, exp.Upper, exp.Coalesce, exp.Length, exp.Abs, exp.Round, exp.Trim,
    exp.Substring, exp.Least, exp.Greatest, exp.Nullif, exp.Floor, exp.Ceil, exp.Extract,
    exp.Var, exp.Concat, exp.DPipe,
)
FUNCTIONS_HINT = ("lower, upper, coalesce, length, abs, round, trim, substring, least, "
                  "greatest, nullif, floor, ceil, extract, cast, concat")


@dataclass(frozen=True)
class FilterProblem:
    code: str
    message: str
    start: int  # character offsets into the filter text
    end: int
    hint: str | None = None


@lru_cache(maxsize=4096)
def parse_filter(sql: str) -> tuple[exp.Expr | None, tuple[FilterProblem, ...]]:
    """Parse and vet a filter. Returns the tree (None if unusable) and the problems found.

    >>> tree, problems = parse_filter("thumbs = 'up' AND NOT escalated")
    >>> problems, tree.sql()
    ((), "thumbs = 'up' AND NOT escalated")
    >>> parse_filter("1 = 1; DROP TABLE users")[1][0].code
    'MS403'
    """
    try:
        tokens = sqlglot.tokenize(sql)
    except TokenError as exc:
        return None, (FilterProblem("MS404", f"filter does not parse: {_first_line(exc)}",
                                    0, len(sql), "check quotes and parentheses"),)
    for token in tokens:
        if token.token_type == sqlglot.TokenType.SEMICOLON:
            return None, (FilterProblem("MS403", "a filter is one condition; `;` is not allowed",
                                        token.start, token.end + 1),)
    if any(token.comments for token in tokens):
        start = _comment_offset(sql)
        return None, (FilterProblem("MS403", "comments are not allowed inside a filter",
                                    start, start + 2,
                                    "put comments on their own line, after `#`"),)
    try:
        statements = sqlglot.parse(sql)
    except ParseError as exc:
        detail = exc.errors[0] if exc.errors else {}
        offset = _offset(sql, detail.get("line", 1), detail.get("col", 1))
        description = re.sub(r"<class '[\w.]*?(\w+)'>", r"`\1`",
                             detail.get("description", str(exc)))
        return None, (FilterProblem("MS404", f"filter does not parse: {description}",
                                    max(0, offset - 1), offset),)
    if len(statements) != 1 or statements[0] is None:
        return None, (FilterProblem("MS403", "a filter must be exactly one condition",
                                    0, len(sql)),)
    tree = statements[0]
    problems = tuple(_unsafe(tree, sql, tokens))
    return (None if problems else tree), problems


_SUBQUERY_TOKENS = ("EXISTS", "SELECT", "WITH")
_STATEMENT_TOKENS = ("CREATE", "DROP", "INSERT", "UPDATE", "DELETE", "ALTER", "TRUNCATE",
                     "MERGE", "COMMAND", "GRANT", "REPLACE", "USE", "SET", "COPY")
_STATEMENT_NODES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name) for name in (
        "Create", "Drop", "Insert", "Update", "Delete", "Alter", "Command", "TruncateTable",
        "Grant", "Revoke", "Merge", "Set", "Use", "Copy", "Describe", "Pragma", "Transaction",
        "Commit", "Rollback", "Show", "Analyze", "Refresh", "Comment")
    if hasattr(exp, name))


def _keyword(tokens: list[SqlToken], types: tuple[str, ...]
             ) -> tuple[int, int] | None:
    """The character range of the first token of one of `types`."""
    for token in tokens:
        if token.token_type.name in types:
            return token.start, token.end + 1
    return None


def _unsafe(tree: exp.Expr, sql: str,
            tokens: list[SqlToken]) -> Iterator[FilterProblem]:
    for node in tree.walk():
        if isinstance(node, ALLOWED_NODES) and not (
                isinstance(node, exp.In) and node.args.get("query") is not None):
            continue
        if isinstance(node, (exp.Query, exp.Subquery, exp.In, exp.Exists)):
            start, end = _keyword(tokens, _SUBQUERY_TOKENS) or (0, len(sql))
            yield FilterProblem("MS403", "a subquery is not allowed in a filter", start, end,
                                "a filter tests the columns of one row of its source")
            return
        if isinstance(node, _STATEMENT_NODES) or (
                node is tree and _keyword(tokens[:1], _STATEMENT_TOKENS)):
            start, end = _keyword(tokens, _STATEMENT_TOKENS) or (
                tokens[0].start, tokens[0].end + 1)
            yield FilterProblem("MS403", "a statement is not allowed in a filter", start, end,
                                "a filter is one condition, such as `status = 'done'`")
            return
        if isinstance(node, exp.Func):
            name = node.sql_name() if not isinstance(node, exp.Anonymous) else node.name
            what = f"the function `{name.lower()}`"
        else:
            what = f"`{node.key}`"
        yield _problem(node, sql, f"{what} is not allowed in a filter",
                       f"filters may use columns, literals, comparisons, AND/OR/NOT, IN, "
                       f"BETWEEN, LIKE, IS NULL, CASE and {FUNCTIONS_HINT}")
        return


def _problem(node: exp.Expr, sql: str, message: str,
             hint: str | None = None) -> FilterProblem:
    start, end = _node_offsets(node, sql)
    return FilterProblem("MS403", message, start, end, hint)


def _node_offsets(node: exp.Expr, sql: str) -> tuple[int, int]:
    """Best-effort character range of a node, from the positions sqlglot keeps."""
    positions = [n.meta for n in node.walk() if n.meta.get("start") is not None]
    if isinstance(node, exp.Identifier) and node.meta.get("start") is not None:
        positions = [node.meta]
    if not positions:
        return 0, len(sql)
    return min(p["start"] for p in positions), max(p["end"] for p in positions) + 1


def _comment_offset(sql: str) -> int:
    """Where the first SQL comment (`--` or `/*`) outside quotes starts."""
    quote: str | None = None
    for i, ch in enumerate(sql):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif sql.startswith(("--", "/*"), i):
            return i
    return 0


def filter_columns(tree: exp.Expr) -> list[exp.Column]:
    return list(tree.find_all(exp.Column))


def check_filter(flt: ir.Filter, source: ir.Source | None) -> list[Diagnostic]:
    """All problems with one filter against its source."""
    tree, problems = parse_filter(flt.sql)
    out = [error(p.code, p.message, span_in(flt, p.start, p.end), p.hint) for p in problems]
    if tree is None or source is None:
        return out
    known = [c.name for c in source.all_columns()]
    for column in filter_columns(tree):
        table = column.table
        start, end = _node_offsets(column, flt.sql)
        if table and table != source.name:
            out.append(error("MS405", f"`{table}.{column.name}` is not a column of "
                             f"`{source.name}`", span_in(flt, start, end),
                             f"a filter may only use columns of `{source.name}`"))
        elif source.typed and column.name not in known:
            quoted = bool(column.this.args.get("quoted"))
            hint = did_you_mean(column.name, known) or (
                f"SQL text goes in single quotes: '{column.name}'" if quoted else None)
            out.append(error("MS405", f"unknown column `{column.name}` in source "
                             f"`{source.name}`", span_in(flt, start, end), hint))
    return out


def span_in(flt: ir.Filter, start: int, end: int) -> ir.Span:
    """The span of characters [start, end) of a filter's text."""
    line, column = _line_col(flt, start)
    end_line, end_column = _line_col(flt, max(start + 1, end) - 1)
    return ir.Span(file=flt.span.file, line=line, column=column, end_line=end_line,
                   end_column=end_column + 1)


def _line_col(flt: ir.Filter, offset: int) -> tuple[int, int]:
    """The file position of the filter's character at `offset`."""
    if flt.layout_spans:
        seen = 0
        for run in flt.layout_spans:
            length = run.end_column - run.column
            if offset < seen + length:
                return run.line, run.column + offset - seen
            seen += length
        last = flt.layout_spans[-1]
        return last.line, last.end_column + offset - seen
    before = flt.sql[:offset]
    newlines = before.count("\n")
    if newlines == 0:
        return flt.span.line, flt.span.column + offset
    return flt.span.line + newlines, offset - before.rfind("\n")


def _offset(sql: str, line: int, col: int) -> int:
    lines = sql.split("\n")
    return sum(len(x) + 1 for x in lines[: max(0, line - 1)]) + col


def _first_line(exc: Exception) -> str:
    return str(exc).strip().split("\n")[0]


def rule_filters(index: Index) -> Iterator[Diagnostic]:
    """Check every filter in the project against the source it filters."""
    for metric in index.project.metrics:
        for node in ir.walk(metric.expr):
            if isinstance(node, ir.Aggregate) and node.filter:
                yield from check_filter(node.filter, index.sources.get(node.source.name))
            elif isinstance(node, ir.Conversion):
                for events in (node.start, node.end):
                    if events.filter:
                        yield from check_filter(events.filter,
                                                index.sources.get(events.source.name))
    for experiment in index.project.experiments:
        assignment = experiment.assignment
        if assignment and assignment.filter:
            yield from check_filter(assignment.filter, index.sources.get(assignment.source.name))
