"""The DSL front end: `.mspec` text → IR objects and diagnostics.

Syntax errors become diagnostics with the exact position, what was expected in words, and a
did-you-mean for misspelt keywords. After an error the parser resumes at the next top-level
statement (a line starting with `source`, `metric`, `kpi`, `guardrail`, `experiment` or
`monitor`), so one typo does not hide every other problem in the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from lark import Lark, Token, UnexpectedInput
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from metricspec import ir
from metricspec.diagnostics import Diagnostic, did_you_mean, error
from metricspec.parse.build import Builder
from metricspec.parse.positions import ScalarMap
from metricspec.parse.syntax_errors import EXAMPLES, describe_expected
from metricspec.resources import grammar_path

FRAGMENTS = ("expr_fragment", "margin_fragment", "amount_fragment", "duration_fragment",
             "alert_fragment", "filter_fragment", "mde_fragment", "window_fragment",
             "traffic_fragment", "condition_fragment", "composition_fragment", "unit_fragment")
TOP_LEVEL = ("source", "metric", "kpi", "guardrail", "experiment", "monitor")
_STATEMENT = re.compile(r"^(%s)\b" % "|".join(TOP_LEVEL))
# Characters the grammar uses as (part of) tokens; any other is an unexpected character.
_PUNCTUATION = set("=(){},.:;<>-+*/%\"")
_FIRST_WORD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)[ \t]+[A-Za-z_]")
_HEAD = re.compile(r"^(%s)\s+([A-Za-z_][A-Za-z0-9_]*)" % "|".join(TOP_LEVEL))


@cache
def parser() -> Lark:
    """The LALR parser for `grammar/metricspec.lark`, built once per process."""
    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        start=["start", *FRAGMENTS],
    )


@dataclass
class ParseResult:
    """What one file gave: its objects, its diagnostics, and the names of statements that
    failed to parse (so later stages do not also call them unknown)."""

    objects: list[Any] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    broken: set[tuple[str, str]] = field(default_factory=set)


def parse_text(text: str, file: str) -> ParseResult:
    """Parse a whole `.mspec` file, recovering after syntax errors."""
    result = ParseResult()
    lines = text.split("\n")
    boundaries = [i for i, line in enumerate(lines) if _starts_statement(line)]
    _parse_region(lines, 0, len(lines), boundaries, file, result)
    return result


def _starts_statement(line: str) -> bool:
    """Whether error recovery may resume at this line: it starts with a statement keyword,
    or with a misspelling of one (`metrc x = …`), so that typo is reported too."""
    if _STATEMENT.match(line):
        return True
    word = _FIRST_WORD.match(line)
    return bool(word) and did_you_mean(word.group(1), TOP_LEVEL) is not None


def _parse_region(lines: list[str], start: int, end: int, boundaries: list[int], file: str,
                  result: ParseResult) -> None:
    if start >= end:
        return
    text = "\n" * start + "\n".join(lines[start:end])
    builder = Builder(file)
    try:
        tree = parser().parse(text, start="start")
    except UnexpectedInput as exc:
        result.diagnostics.append(syntax_diagnostic(exc, text, file))
        line = (exc.line - 1) if isinstance(exc.line, int) and exc.line > 0 else end - 1
        line = min(max(line, start), end - 1)
        at_keyword = (isinstance(exc, UnexpectedToken) and exc.column == 1
                      and line in boundaries and line > start)
        inside = [b for b in boundaries if start <= b < line]
        if at_keyword:
            broken_from, resume = (inside[-1] if inside else start), line
        else:
            broken_from = max([b for b in boundaries if start <= b <= line], default=start)
            resume = min([b for b in boundaries if line < b < end], default=end)
        head = _HEAD.match(lines[broken_from])
        if head:
            result.broken.add((head.group(1), head.group(2)))
        _parse_region(lines, start, broken_from, boundaries, file, result)
        _parse_region(lines, resume, end, boundaries, file, result)
        return
    objects = builder.transform(tree)
    result.objects.extend(objects)
    result.diagnostics.extend(builder.diagnostics)


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
    node = builder.transform(tree)
    return node, builder.diagnostics


def _fragment_wording(diagnostic: Diagnostic) -> Diagnostic:
    """A YAML value that stops short has not reached the end of a file: say so."""
    if diagnostic.code != "MS103":
        return diagnostic
    return replace(diagnostic, message="this value stops in the middle")


def syntax_diagnostic(exc: UnexpectedInput, text: str, file: str,
                      builder: Builder | None = None) -> Diagnostic:
    """Turn a Lark exception into a diagnostic a person can act on."""
    builder = builder or Builder(file)
    line = exc.line if isinstance(exc.line, int) and exc.line > 0 else max(1, text.count("\n"))
    column = exc.column if isinstance(exc.column, int) and exc.column > 0 else 1
    width = 1
    hint: str | None = None
    friendly = _match_example(exc)
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        code, message = "MS102", f"unexpected character `{_visible(char)}`"
        hint = describe_expected(parser(), exc.allowed)
        if char in "'\"":
            rest = text[exc.pos_in_stream + 1:].split("\n", 1)[0]
            hint = ("this quote is not closed on its line" if char not in rest else
                    "labels use double quotes" if char == "'" else hint)
    elif isinstance(exc, UnexpectedEOF):
        code, message = "MS103", "the file ends in the middle of a statement"
        hint = describe_expected(parser(), exc.expected)
        line, column = _last_position(text)
    else:
        assert isinstance(exc, UnexpectedToken)
        token: Token = _first_word(exc.token)
        if token.type == "CHAR":
            code, message = "MS102", f"unexpected character `{_visible(str(token))}`"
        elif token.type == "$END":
            code, message = "MS103", "the file ends in the middle of a statement"
            # Lark places the end marker on the last token: point just after it, not after
            # any comments that follow.
            if token.end_line and token.end_column:
                line, column = token.end_line, token.end_column
            else:
                line, column = _last_position(text)
        elif "RBRACE" in exc.expected and str(token) in TOP_LEVEL and exc.column == 1:
            code, message = "MS101", f"a block is still open when `{token}` starts"
            width = len(str(token))
        else:
            code = "MS101"
            message = f"unexpected {_token_words(token)}"
            width = max(1, len(str(token)))
        expected = _accepts(exc)
        hint = _keyword_hint(token, expected) or describe_expected(parser(), expected)
        if message.startswith("a block is still open"):
            hint = "add `}` on the line before to close it"
    if friendly:
        message = friendly
    pos_line, pos_column = builder._pos(line, column)
    span = ir.Span(file=file, line=pos_line, column=pos_column, end_line=pos_line,
                   end_column=pos_column + width)
    return error(code, message, span, hint)


@cache
def _example_errors() -> tuple[tuple[str, UnexpectedInput], ...]:
    """The syntax error each of `EXAMPLES` raises, computed once."""
    found: list[tuple[str, UnexpectedInput]] = []
    for label, examples in EXAMPLES.items():
        for example in examples:
            try:
                parser().parse(example, start="start")
            except UnexpectedInput as exc:
                found.append((label, exc))
    return tuple(found)


def _parser_state(exc: UnexpectedInput) -> object:
    """The LALR state the parser was in: the top of its stack, not the whole stack.

    Lark's own `match_examples` compares whole stacks, so an example written as a file's
    first statement would never match the same mistake further down the file.
    """
    state = getattr(exc, "state", None)
    return getattr(state, "position", state)


def _match_example(exc: UnexpectedInput) -> str | None:
    """The friendly message of the example that fails the same way, if any."""
    try:
        state = _parser_state(exc)
        fallback: str | None = None
        for label, example in _example_errors():
            if type(example) is not type(exc) or _parser_state(example) != state:
                continue
            if isinstance(exc, UnexpectedToken) and isinstance(example, UnexpectedToken):
                if set(example.accepts) != set(exc.accepts):
                    continue
                if example.token == exc.token:
                    return label
                if example.token.type == exc.token.type and fallback is None:
                    fallback = label
            elif fallback is None:
                fallback = label
        return fallback
    except Exception:  # noqa: BLE001 - a failed lookup only loses the friendlier wording
        return None


def _accepts(exc: UnexpectedToken) -> set[str]:
    """The terminals really acceptable here (LALR's `expected` over-approximates)."""
    try:
        return set(exc.interactive_parser.accepts())
    except Exception:  # noqa: BLE001 - fall back to the parser's own estimate
        return set(exc.expected)


def _first_word(token: Token) -> Token:
    """When no expected terminal matched, Lark's fallback lexer may swallow a long run of text
    as one filter-like token; report only its first word or character."""
    if token.type not in ("FILTER", "LINE_FILTER"):
        return token
    text = str(token)
    match = re.match(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?|\S", text)
    word = match.group(0) if match else text[:1]
    kind = ("NAME" if re.match(r"[A-Za-z_]", word) else "NUMBER" if word[0].isdigit()
            else "PUNCTUATION" if word in _PUNCTUATION else "CHAR")
    return Token.new_borrow_pos(kind, word, token)


def _keyword_hint(token: Token, expected: set[str]) -> str | None:
    """`metrc` where a keyword was expected: suggest the keyword."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(token)):
        return None
    keywords = []
    for name in expected:
        try:
            pattern = parser().get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str" and re.fullmatch(r"[a-z_]+", pattern.value):
            keywords.append(pattern.value)
    return did_you_mean(str(token), keywords) if keywords else None


def _token_words(token: Token) -> str:
    value = _visible(str(token))
    if token.type == "NAME":
        return f"name `{value}`"
    if token.type == "NUMBER":
        return f"number `{value}`"
    if token.type == "STRING":
        return "string"
    return f"`{value}`"


def _visible(text: str) -> str:
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text


def _last_position(text: str) -> tuple[int, int]:
    """The position just after the last text that is not whitespace or a trailing comment."""
    lines = text.rstrip().split("\n")
    while len(lines) > 1 and (not lines[-1].strip() or lines[-1].lstrip().startswith("#")):
        lines.pop()
    return len(lines), len(lines[-1].rstrip()) + 1
