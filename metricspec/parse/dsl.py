"""The DSL front end: `.mspec` text → IR objects and diagnostics.

Syntax errors become diagnostics with the exact position, what was expected in words, and a
did-you-mean for misspelt keywords. After an error the parser resumes at the next top-level
statement (a line starting with `source`, `metric`, `kpi`, `guardrail`, `experiment` or
`monitor`), so one typo does not hide every other problem in the file.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import replace
from functools import cache
from typing import Any

from lark import Lark, Token, Tree, UnexpectedInput
from lark.exceptions import UnexpectedEOF, UnexpectedToken

from metricspec import ir
from metricspec.diagnostics import Diagnostic, did_you_mean, error
from metricspec.parse.build import Builder
from metricspec.parse.grammar_cache import cached_lark
from metricspec.parse.positions import ScalarMap
from metricspec.parse.result import ParseResult
from metricspec.parse.syntax_errors import TOP_LEVEL
from metricspec.parse.syntax_errors import syntax_diagnostic as describe_syntax_error
from metricspec.resources import grammar_path

FRAGMENTS = ("expr_fragment", "margin_fragment", "amount_fragment", "duration_fragment",
             "alert_fragment", "filter_fragment", "mde_fragment", "window_fragment",
             "traffic_fragment", "condition_fragment", "composition_fragment", "unit_fragment",
             "covariate_fragment", "baseline_fragment")
# Parse trees deeper than this are reported (MS110) rather than built: building and checking
# recurse over expressions, and no real metric comes close.
MAX_NESTING = 200
_STATEMENT = re.compile(r"^({})\b".format("|".join(TOP_LEVEL)))
_FIRST_WORD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)[ \t]+[A-Za-z_]")
_HEAD = re.compile(r"^({})\s+([A-Za-z_][A-Za-z0-9_]*)".format("|".join(TOP_LEVEL)))


@cache
def parser() -> Lark:
    """The LALR parser for `grammar/metricspec.lark`, loaded once per process (and built
    once per machine: see `grammar_cache`)."""
    return cached_lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        start=["start", *FRAGMENTS],
    )


def parse_text(text: str, file: str) -> ParseResult:
    """Parse a whole `.mspec` file, recovering after syntax errors."""
    result = ParseResult()
    lines = text.removeprefix("\ufeff").split("\n")
    boundaries = [i for i, line in enumerate(lines) if _starts_statement(line)]
    # Regions still to parse, last first: a failed region splits into the part before the
    # broken statement and the part after it (a loop, not recursion: a file may hold
    # thousands of broken statements).
    pending = [(0, len(lines))]
    while pending:
        start, end = pending.pop()
        pending.extend(reversed(_parse_region(lines, start, end, boundaries, file, result)))
    return result


def _starts_statement(line: str) -> bool:
    """Whether error recovery may resume at this line: it starts with a statement keyword,
    or with a misspelling of one (`metrc x = …`), so that typo is reported too."""
    if _STATEMENT.match(line):
        return True
    word = _FIRST_WORD.match(line)
    return word is not None and did_you_mean(word.group(1), TOP_LEVEL) is not None


def _parse_region(lines: list[str], start: int, end: int, boundaries: list[int], file: str,
                  result: ParseResult) -> list[tuple[int, int]]:
    """Parse lines [start, end); on a syntax error return the regions left to parse."""
    if start >= end:
        return []
    text = "\n".join(lines[start:end])
    builder = Builder(file, line_offset=start)
    try:
        tree = parser().parse(text, start="start")
    except UnexpectedInput as exc:
        line = (start + exc.line - 1) if isinstance(exc.line, int) and exc.line > 0 else end - 1
        line = min(max(line, start), end - 1)
        if start < line and _stops_short(lines, start, line, boundaries):
            # The statement above this line is incomplete and the parser read on into the
            # next statement (`metric a =` then `metric b = 1`): report the incomplete one,
            # by parsing it alone, and resume here.
            return [(start, line), (line, end)]
        diagnostic = syntax_diagnostic(exc, text, file, builder)
        if diagnostic.code == "MS103" and end < len(lines):
            # Only the region ends here, not the file.
            generic = diagnostic.message.startswith("the file ends")
            unclosed = generic and "RBRACE" in (getattr(exc, "expected", None) or ())
            diagnostic = replace(
                diagnostic, code="MS101",
                message=("this block is not closed" if unclosed else
                         "this statement is incomplete" if generic else diagnostic.message),
                hint="add `}` here to close it" if unclosed else diagnostic.hint)
        result.diagnostics.append(diagnostic)
        # `boundaries` is sorted: find the statements around the error by bisection.
        here = bisect_left(boundaries, line)
        at_keyword = (isinstance(exc, UnexpectedToken) and exc.column == 1
                      and here < len(boundaries) and boundaries[here] == line and line > start)
        before = boundaries[here - 1] if here > 0 and boundaries[here - 1] >= start else start
        if at_keyword:
            broken_from, resume = before, line
        else:
            on_line = here < len(boundaries) and boundaries[here] == line
            broken_from = line if on_line else before
            after = bisect_right(boundaries, line)
            resume = boundaries[after] if after < len(boundaries) and boundaries[after] < end \
                else end
        head = _HEAD.match(lines[broken_from])
        if head:
            result.broken.add((head.group(1), head.group(2)))
        return [(start, broken_from), (resume, end)]
    for item in _too_deep(tree):
        result.diagnostics.append(_nesting_error(item, file, start))
        name = item.children[0] if item.children else None
        if isinstance(name, Token):
            result.broken.add((str(item.data), str(name)))
    objects = builder.transform(tree)
    result.objects.extend(objects)
    result.diagnostics.extend(builder.diagnostics)
    return []


def _stops_short(lines: list[str], start: int, line: int, boundaries: list[int]) -> bool:
    """Whether `line` starts a statement and the lines before it end mid-statement."""
    here = bisect_left(boundaries, line)
    if here >= len(boundaries) or boundaries[here] != line:
        return False
    try:
        parser().parse("\n".join(lines[start:line]), start="start")
    except UnexpectedEOF:
        return True
    except UnexpectedToken as exc:
        return bool(exc.token.type == "$END")
    except UnexpectedInput:
        return False
    return False


def _depth(tree: Tree[Token], limit: int) -> int:
    """How deeply `tree` nests, counted without recursion, stopping past `limit`."""
    depth = 0
    level = [tree]
    while level and depth <= limit:  # one level at a time: every statement passes here
        depth += 1
        level = [child for node in level for child in node.children if isinstance(child, Tree)]
    return depth


def _too_deep(tree: Tree[Token]) -> list[Tree[Token]]:
    """Remove and return the top-level statements that nest deeper than `MAX_NESTING`.

    Building IR and checking it recurse over expressions; a statement thousands of levels
    deep (`- - - … 1`) would exhaust Python's stack, so it is reported instead.
    """
    deep = [c for c in tree.children if isinstance(c, Tree) and _depth(c, MAX_NESTING)
            > MAX_NESTING]
    tree.children = [c for c in tree.children if not any(c is d for d in deep)]
    return deep


def _nesting_error(item: Tree[Token], file: str, line_offset: int) -> Diagnostic:
    meta = item.meta
    line = (meta.line if not meta.empty else 1) + line_offset
    column = meta.column if not meta.empty else 1
    return error("MS110", f"this statement nests more than {MAX_NESTING} levels deep",
                 ir.Span.point(file, line, column, max(1, len(str(item.data)))),
                 "split it into several metrics")


def parse_fragment(text: str, rule: str, file: str, line: int, column: int,
                   scalar: ScalarMap | None = None) -> tuple[Any, list[Diagnostic]]:
    """Parse one fragment (for the YAML front end) as if it sat at `line`:`column` of `file`.

    `scalar`, when given, says exactly where each character of `text` sits in the file (a
    YAML block, folded or escaped scalar is not a verbatim copy of its lines). Returns the
    built IR node, or None with a diagnostic when it does not parse.
    """
    builder = Builder(file, line_offset=line - 1, column_offset=column - 1, scalar=scalar)
    try:
        tree = parser().parse(text, start=rule)
    except UnexpectedInput as exc:
        return None, [_fragment_wording(syntax_diagnostic(exc, text, file, builder))]
    if _depth(tree, MAX_NESTING) > MAX_NESTING:
        first = builder.span_of(tree.meta) if not tree.meta.empty else ir.Span.point(
            file, line, column)
        return None, [error("MS110", f"this value nests more than {MAX_NESTING} levels deep",
                            ir.Span.point(file, first.line, first.column),
                            "split it into several metrics")]
    node = builder.transform(tree)
    return node, builder.diagnostics


def _fragment_wording(diagnostic: Diagnostic) -> Diagnostic:
    """A YAML value that stops short has not reached the end of a file: say so."""
    if diagnostic.code != "MS103":
        return diagnostic
    return replace(diagnostic, message="this value stops in the middle")


def syntax_diagnostic(exc: UnexpectedInput, text: str, file: str,
                      builder: Builder | None = None) -> Diagnostic:
    """Turn a Lark exception into a diagnostic (worded by `syntax_errors`), placed in the
    file as `builder` places its nodes."""
    return describe_syntax_error(exc, text, file, parser(), (builder or Builder(file))._pos)
