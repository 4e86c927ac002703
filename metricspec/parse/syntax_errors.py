"""Friendly wording for syntax errors.

`EXAMPLES` maps a message to bad inputs that end in the same parser state; Lark's
`match_examples` picks the message for a real error. `describe_expected` turns the set of
terminals the parser wanted into words, and `syntax_diagnostic` a Lark exception into a
diagnostic with its code, place, message and hint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from itertools import pairwise

from lark import Lark, Token, Tree, UnexpectedInput
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from metricspec import ir
from metricspec.diagnostics import Diagnostic, did_you_mean, error

TOP_LEVEL = ("source", "metric", "kpi", "guardrail", "experiment", "monitor", "calendar")
# Characters the grammar uses as (part of) tokens; any other is an unexpected character.
_PUNCTUATION = set("=(){},.:;<>-+*/%\"")

EXAMPLES: dict[str, list[str]] = {
    "an operator must have a value on both sides": [
        "metric a = b +* c",
        "metric a = b * / c",
        "metric a = b + + c",
        "metric a = b - * c",
        "metric a = b / ) ",
    ],
    "a metric needs `=` and an expression after its name": [
        "metric a b",
        "metric a count(x)",
        "metric a 1",
    ],
    "expected an expression after `=`": [
        "metric a = ",
        "metric a = )",
    ],
    "a `where` needs a condition": [
        "metric a = count(x where)",
    ],
    "an aggregation takes a source or `source.column`": [
        "metric a = count()",
        "metric a = sum(1)",
        "metric a = count(x.y.z)",
    ],
    "a source needs `= table schema.name { … }` or `= query \"\"\"…\"\"\" { … }`": [
        "source s { entity a }",
        "source s = x { }",
        "source s = table { }",
    ],
}

_WORDS: dict[str, str] = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a quoted string",
    "DATE": "a date (YYYY-MM-DD)",
    "FILTER": "a condition",
    "LINE_FILTER": "a condition",
    "AGG_FUNC": "an aggregation such as count(…), sum(…) or p95(…)",
    "COMPOSITION": "sum(…), product(…), ratio(…), weighted(…) or drivers(…)",
    "COMPARATOR": "a comparison (<, <=, >, >=)",
    "MARGIN_KIND": "max_increase, max_decrease or margin",
    "MDE_KIND": "relative or absolute",
    "DIRECTION_WORD": "below or above",
    "CONTROL": "control",
    "APPROXIMATE": "approximate",
    "SEMI_CHOICE": "first or last",
    "$END": "the end of the file",
}


_OPERATORS = {"+", "-", "*", "/"}
_STATEMENTS = {"source", "metric", "kpi", "guardrail", "experiment", "monitor", "calendar"}
_VALUE_STARTS = {"AGG_FUNC", "NAME", "NUMBER", "LPAR"}


def describe_expected(parser: Lark, expected: Iterable[str], limit: int = 8) -> str | None:
    """Say in words what the parser expected, e.g. "expected `=` or a name"."""
    names = set(expected)
    literals = {}
    for name in names:
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str":
            literals[name] = pattern.value
    words: list[str] = []
    if names >= _VALUE_STARTS:
        words.append("a value (a number, a metric, an aggregation or `(`)")
        names -= _VALUE_STARTS | {"MINUS", "WEIGHTED", "CONVERSION", "ROLLING", "CUMULATIVE",
                                  "QUANTILE"}
    if {literals.get(n) for n in names} >= _OPERATORS:
        words.append("an operator")
        names = {n for n in names if literals.get(n) not in _OPERATORS}
    if {literals.get(n) for n in names} >= _STATEMENTS:
        words.append("a new statement")
        names = {n for n in names if literals.get(n) not in _STATEMENTS}
    rest: set[str] = set()
    for name in names:
        if name in _WORDS:
            rest.add(_WORDS[name])
        elif name in literals:
            rest.add(f"`{literals[name]}`")
    words += sorted(rest, key=lambda w: (not w.startswith("`"), w))
    if not words:
        return None
    if len(words) > limit:
        words = [*words[:limit], "…"]
    if len(words) == 1:
        return f"expected {words[0]}"
    return "expected " + ", ".join(words[:-1]) + " or " + words[-1]


def syntax_diagnostic(exc: UnexpectedInput, text: str, file: str, parser: Lark,
                      position: Callable[[int, int], tuple[int, int]] | None = None
                      ) -> Diagnostic:
    """Turn a Lark exception into a diagnostic a person can act on.

    `position` maps a line and column of `text` to the file's (a fragment of a YAML file
    sits somewhere inside it); `parser` is the grammar's parser, for what it expected.
    """
    line = exc.line if isinstance(exc.line, int) and exc.line > 0 else max(1, text.count("\n"))
    column = exc.column if isinstance(exc.column, int) and exc.column > 0 else 1
    width = 1
    hint: str | None = None
    friendly = _match_example(exc, parser)
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        char = text[pos] if pos < len(text) else ""
        code, message = "MS102", f"unexpected character `{_visible(char)}`"
        hint = describe_expected(parser, exc.allowed)
        if char in "'\"":
            rest = text[pos + 1:].split("\n", 1)[0]
            hint = ("this quote is not closed on its line" if char not in rest else
                    "labels use double quotes" if char == "'" else hint)
    elif isinstance(exc, UnexpectedEOF):
        code, message = "MS103", "the file ends in the middle of a statement"
        hint = describe_expected(parser, exc.expected)
        line, column = _last_position(text)
    else:
        assert isinstance(exc, UnexpectedToken)
        token: Token = _first_word(exc.token)
        own_hint: str | None = None  # a hint this case knows better than what was expected
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
            own_hint = "add `}` on the line before to close it"
        elif str(token) in TOP_LEVEL and exc.column == 1 and _previous_end(exc):
            # `metric m` and then a new statement: the statement above stops short; point
            # where its missing part belongs, not at the healthy statement below.
            code, message = "MS101", "this statement is incomplete"
            line, column = _previous_end(exc) or (line, column)
        elif (called := _called_name(exc, token, parser)) is not None:
            # `summ(x)`: the name before `(` is not a function, so `(` is what fails
            code, message = "MS101", f"unknown function `{called}`"
            line, column, width = called.line or line, called.column or column, len(called)
            known = functions(parser)
            own_hint = did_you_mean(str(called), known) or (
                "functions: " + ", ".join(f"{name}(…)" for name in known[:8]) + ", …")
            friendly = None
        else:
            code = "MS101"
            message = f"unexpected {_token_words(token)}"
            width = max(1, len(str(token)))
        if own_hint is None:
            expected = _accepts(exc)
            hint = _keyword_hint(token, expected, parser) or describe_expected(parser, expected)
        else:
            hint = own_hint
    if friendly:
        message = friendly
    pos_line, pos_column = position(line, column) if position else (line, column)
    span = ir.Span(file=file, line=pos_line, column=pos_column, end_line=pos_line,
                   end_column=pos_column + width)
    return error(code, message, span, hint)


@cache
def _example_errors(parser: Lark) -> tuple[tuple[str, UnexpectedInput], ...]:
    """The syntax error each of `EXAMPLES` raises, computed once per parser."""
    found: list[tuple[str, UnexpectedInput]] = []
    for label, examples in EXAMPLES.items():
        for example in examples:
            try:
                parser.parse(example, start="start")
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


def _match_example(exc: UnexpectedInput, parser: Lark) -> str | None:
    """The friendly message of the example that fails the same way, if any."""
    try:
        state = _parser_state(exc)
        fallback: str | None = None
        for label, example in _example_errors(parser):
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
    except Exception:
        return None


def _accepts(exc: UnexpectedToken) -> set[str]:
    """The terminals really acceptable here (LALR's `expected` over-approximates)."""
    try:
        accepts: set[str] = exc.interactive_parser.accepts()  # type: ignore[no-untyped-call]
        return set(accepts)
    except Exception:
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


def _previous_end(exc: UnexpectedToken) -> tuple[int, int] | None:
    """Where the last token the parser accepted ends."""
    try:
        value = exc.interactive_parser.parser_state.value_stack[-1]
    except (AttributeError, IndexError):
        return None
    if isinstance(value, Token) and value.end_line and value.end_column:
        return value.end_line, value.end_column
    if isinstance(value, Tree) and not value.meta.empty:
        return value.meta.end_line, value.meta.end_column
    return None


@cache
def functions(parser: Lark) -> tuple[str, ...]:
    """The words the grammar calls with `(` — aggregations, windows, offsets, KPI tree
    compositions, `pre(…)` —, in the grammar's order (a percentile `p95` is a pattern, not
    a word, and is left out)."""
    found: dict[str, None] = {}
    for rule in parser.rules:
        for symbol, following in pairwise(rule.expansion):
            if following.name != "LPAR" or not symbol.is_term:
                continue
            pattern = parser.get_terminal(symbol.name).pattern
            if pattern.type == "str":
                words = [pattern.value]
            else:  # `(count_distinct|count|…)(?=…)`: its alternatives
                match = re.match(r"\(([^)]*)\)", pattern.value)
                words = match.group(1).split("|") if match else []
            for word in words:
                if re.fullmatch(r"[a-z_]+", word):
                    found.setdefault(word)
    return tuple(found)


def _called_name(exc: UnexpectedToken, token: Token, parser: Lark) -> Token | None:
    """The name written just before an unexpected `(`, as if it were a function."""
    if str(token) != "(":
        return None
    try:
        value = exc.interactive_parser.parser_state.value_stack[-1]
    except (AttributeError, IndexError):
        return None
    if isinstance(value, Tree) and value.data == "metric_ref" and len(value.children) == 1:
        value = value.children[0]
    if not (isinstance(value, Token) and value.type == "NAME"):
        return None
    # `b (c)`, with a space, is more likely a missing operator than a call
    adjacent = value.end_line == token.line and value.end_column == token.column
    return value if adjacent and str(value) not in functions(parser) else None


def _keyword_hint(token: Token, expected: set[str], parser: Lark) -> str | None:
    """`metrc` where a keyword was expected: suggest the keyword."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(token)):
        return None
    keywords = []
    for name in expected:
        try:
            pattern = parser.get_terminal(name).pattern
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
