"""Filters: a `where` condition parsed once into a value whose SQL tree metricspec built.

sqlglot parses the text (neutral dialect), but no node it produced is ever rendered: the
tree is rebuilt, node by node, from a closed grammar, and whatever falls outside it is a
problem at its span. The grammar:

- columns (an identifier, optionally qualified with one more identifier; double quotes are
  allowed, but the name is still an identifier), string and number literals, TRUE, FALSE,
  NULL;
- comparisons, AND/OR/NOT, arithmetic, unary minus, parentheses, IN (a list), BETWEEN,
  [NOT] LIKE/ILIKE, IS [NOT] NULL/TRUE/FALSE, CASE (searched and simple);
- the functions of `FUNCTIONS`; CAST and TRY_CAST to a type of `TYPES` (DECIMAL may take a
  precision and scale); EXTRACT of a date part of `DATE_PARTS` (the parts every backend
  spells the same way).

Text reaches the rebuilt tree only as a string literal's value or an identifier's name,
which sqlglot's generator quotes for each warehouse. Nesting is bounded, so no filter can
make the parser or a later stage recurse without limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.tokenizer_core import Token as SqlToken

from metricspec.filter_grammar import ColumnRef, FilterProblem, Rebuilder, node_offsets

#: Longest filter text, in characters.
MAX_LENGTH = 10_000
#: Deepest nesting of brackets, and longest run of prefix operators (`NOT NOT …`, `- - …`).
MAX_NESTING = 20
#: Deepest tree (a long `a OR b OR …` chain is as deep as it is long).
MAX_DEPTH = 200

__all__ = ["CheckedFilter", "ColumnRef", "FilterProblem", "parse_filter"]

_OPEN = {"L_PAREN", "L_BRACE", "L_BRACKET"}
_CLOSE = {"R_PAREN", "R_BRACE", "R_BRACKET"}
_PREFIX = {"NOT", "DASH", "PLUS", "TILDE"}
_QUOTED = {"IDENTIFIER", "STRING", "NATIONAL_STRING", "RAW_STRING", "BYTE_STRING",
           "HEX_STRING", "BIT_STRING", "UNICODE_STRING", "HEREDOC_STRING"}
_SUBQUERY_TOKENS = ("EXISTS", "SELECT", "WITH")
_STATEMENT_TOKENS = ("CREATE", "DROP", "INSERT", "UPDATE", "DELETE", "ALTER", "TRUNCATE",
                     "MERGE", "COMMAND", "GRANT", "REPLACE", "USE", "SET", "COPY")
_STATEMENT_NODES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name) for name in (
        "Create", "Drop", "Insert", "Update", "Delete", "Alter", "Command", "TruncateTable",
        "Grant", "Revoke", "Merge", "Set", "Use", "Copy", "Describe", "Pragma", "Transaction",
        "Commit", "Rollback", "Show", "Analyze", "Refresh", "Comment")
    if hasattr(exp, name))


@dataclass(frozen=True)
class CheckedFilter:
    """A filter inside the closed grammar.

    Attributes:
        text: The filter as written in the spec.
        tree: The condition, built by metricspec (shared: copy it before changing it).
        references: Every column reference, in the order written.
        columns: The distinct column names it reads, in the order first written.
    """

    text: str
    tree: exp.Expr = field(compare=False, repr=False)
    references: tuple[ColumnRef, ...] = field(compare=False, repr=False)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(ref.name for ref in self.references))


@lru_cache(maxsize=4096)
def parse_filter(sql: str) -> tuple[CheckedFilter | None, tuple[FilterProblem, ...]]:
    """Parse a filter and rebuild it from the closed grammar.

    Returns the checked filter (None if it has problems) and the problems found.

    >>> checked, problems = parse_filter("thumbs = 'up' AND NOT escalated")
    >>> problems, checked.tree.sql(), checked.columns
    ((), "thumbs = 'up' AND NOT escalated", ('thumbs', 'escalated'))
    >>> parse_filter("1 = 1; DROP TABLE users")[1][0].code
    'MS403'
    >>> parse_filter("random() < 0.5")[1][0].message
    'the function `random` is not allowed in a filter'
    """
    if len(sql) > MAX_LENGTH:
        return None, (FilterProblem("MS403", f"a filter is at most {MAX_LENGTH} characters",
                                    MAX_LENGTH, len(sql), "split it over several metrics"),)
    try:
        tokens = sqlglot.tokenize(sql)
    except (TokenError, RecursionError, ValueError, IndexError) as exc:
        return None, (FilterProblem("MS404", f"filter does not parse: {_first_line(exc)}",
                                    0, len(sql), "check quotes and parentheses"),)
    refused = _token_problem(sql, tokens)
    if refused:
        return None, (refused,)
    try:
        statements = sqlglot.parse(sql)
    except ParseError as exc:
        detail = exc.errors[0] if exc.errors else {}
        offset = _offset(sql, detail.get("line", 1), detail.get("col", 1))
        description = re.sub(r"<class '[\w.]*?(\w+)'>", r"`\1`",
                             detail.get("description", str(exc)))
        return None, (FilterProblem("MS404", f"filter does not parse: {description}",
                                    max(0, offset - 1), offset),)
    except RecursionError:
        return None, (_too_deep(sql),)
    except (SqlglotError, ValueError, IndexError, KeyError, TypeError) as exc:
        return None, (FilterProblem("MS404", f"filter does not parse: {_first_line(exc)}",
                                    0, len(sql)),)
    if len(statements) != 1 or statements[0] is None:
        return None, (FilterProblem("MS403", "a filter must be exactly one condition",
                                    0, len(sql)),)
    parsed = statements[0]
    if _depth(parsed) > MAX_DEPTH:
        return None, (_too_deep(sql),)
    refused = _subquery_or_statement(parsed, sql, tokens)
    if refused:
        return None, (refused,)
    builder = Rebuilder(sql, tokens)
    tree = builder.build(parsed)
    if builder.problems or tree is None:
        return None, tuple(builder.problems)
    return CheckedFilter(sql, tree, tuple(builder.references)), ()


def _token_problem(sql: str, tokens: list[SqlToken]) -> FilterProblem | None:
    """What the token stream alone refuses: `;`, comments, deep nesting, quoted types."""
    depth = run = 0
    for i, token in enumerate(tokens):
        kind = token.token_type.name
        if kind == "SEMICOLON":
            return FilterProblem("MS403", "a filter is one condition; `;` is not allowed",
                                 token.start, token.end + 1)
        if token.comments:
            start = _comment_offset(sql)
            return FilterProblem("MS403", "comments are not allowed inside a filter",
                                 start, start + 2, "put comments on their own line, after `#`")
        depth += (kind in _OPEN) - (kind in _CLOSE)
        run = run + 1 if kind in _PREFIX else 0
        if depth > MAX_NESTING or run > MAX_NESTING:
            return _too_deep(sql, token.start, token.end + 1)
        previous = tokens[i - 1].token_type.name if i else ""
        if kind in _QUOTED and previous in ("ALIAS", "DCOLON"):
            return FilterProblem("MS403", "a type name in a filter cannot be quoted",
                                 token.start, token.end + 1,
                                 "write the type unquoted, e.g. CAST(amount AS DOUBLE)")
        if (kind in _QUOTED and i >= 2 and previous == "L_PAREN"
                and tokens[i - 2].text.upper() == "EXTRACT"):
            return FilterProblem("MS403", "a date part in a filter cannot be quoted",
                                 token.start, token.end + 1,
                                 "write the part unquoted, e.g. EXTRACT(year FROM ts)")
    return None


def _too_deep(sql: str, start: int = 0, end: int | None = None) -> FilterProblem:
    return FilterProblem("MS403", f"a filter may nest at most {MAX_NESTING} levels deep "
                         f"(and at most {MAX_DEPTH} operators in a chain)",
                         start, len(sql) if end is None else end,
                         "split the condition over several metrics, or use IN (list)")


def _depth(tree: exp.Expr) -> int:
    """The depth of a tree, without recursion."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in node.iter_expressions())
    return deepest


def _keyword(tokens: list[SqlToken], types: tuple[str, ...]) -> tuple[int, int] | None:
    """The character range of the first token of one of `types`."""
    for token in tokens:
        if token.token_type.name in types:
            return token.start, token.end + 1
    return None


def _subquery_or_statement(tree: exp.Expr, sql: str,
                           tokens: list[SqlToken]) -> FilterProblem | None:
    """A subquery or a statement, reported at its keyword."""
    for node in tree.walk():
        if isinstance(node, (exp.Query, exp.Subquery, exp.Exists)) or (
                isinstance(node, exp.In) and (node.args.get("query") is not None
                                              or node.args.get("unnest") is not None)):
            start, end = _keyword(tokens, _SUBQUERY_TOKENS) or node_offsets(node, sql)
            return FilterProblem("MS403", "a subquery is not allowed in a filter", start, end,
                                 "a filter tests the columns of one row of its source")
        if isinstance(node, _STATEMENT_NODES) or (
                node is tree and _keyword(tokens[:1], _STATEMENT_TOKENS)):
            start, end = _keyword(tokens, _STATEMENT_TOKENS) or (
                tokens[0].start, tokens[0].end + 1)
            return FilterProblem("MS403", "a statement is not allowed in a filter", start, end,
                                 "a filter is one condition, such as `status = 'done'`")
    return None


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


def _offset(sql: str, line: int, col: int) -> int:
    lines = sql.split("\n")
    return sum(len(x) + 1 for x in lines[: max(0, line - 1)]) + col


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n")[0] or type(exc).__name__
