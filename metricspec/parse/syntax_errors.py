"""Friendly wording for syntax errors.

`EXAMPLES` maps a message to bad inputs that end in the same parser state; Lark's
`match_examples` picks the message for a real error. `describe_expected` turns the set of
terminals the parser wanted into words.
"""

from __future__ import annotations

from collections.abc import Iterable

from lark import Lark

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
    "$END": "the end of the file",
}


_OPERATORS = {"+", "-", "*", "/"}
_STATEMENTS = {"source", "metric", "kpi", "guardrail", "experiment", "monitor"}
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
