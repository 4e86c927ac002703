"""The words a misspelt function is compared with come from the grammar itself: every
terminal the grammar follows with `(`, so a function added to the grammar is proposed
without a list to keep in step."""

from __future__ import annotations

from metricspec.parse import parse_text
from metricspec.parse.dsl import parser
from metricspec.parse.syntax_errors import functions


def test_the_callable_words_are_the_grammars() -> None:
    words = functions(parser())
    assert words[:3] == ("count_distinct", "count", "sum")  # the grammar's order
    assert {"avg", "median", "quantile", "rolling", "to_date", "mtd", "offset", "growth",
            "conversion", "weighted", "product", "ratio", "drivers", "pre"} <= set(words)
    assert all(word.isidentifier() for word in words)  # `p[0-9]+` is a pattern, left out
    assert len(words) == len(set(words))


def test_a_known_word_before_a_spaced_parenthesis_is_not_called_unknown() -> None:
    source = "source e = table a.e { entity u; time t; column v: number }\n"
    spaced = parse_text(source + "metric m = sum(e.v)\nmetric n = m (m)\n", "f.mspec")
    [d] = spaced.diagnostics
    assert d.message == "unexpected `(`" and (d.span.line, d.span.column) == (3, 14)
    misspelt = parse_text(source + "metric n = cumulativ(m)\n", "f.mspec")
    [d] = misspelt.diagnostics
    assert d.message == "unknown function `cumulativ`" and d.hint == "did you mean `cumulative`?"
