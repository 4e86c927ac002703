"""Reading YAML values: positions, diagnostics and typed getters over the mappings
`yaml_nodes` builds, with DSL fragments (an `expr`, a duration, a margin) parsed in place.
`yaml_spec` reads each kind of object with it.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from metricspec import ir
from metricspec.diagnostics import error
from metricspec.parse.build_base import MAX_WHOLE
from metricspec.parse.dsl import parse_fragment
from metricspec.parse.positions import ScalarMap, line_starts
from metricspec.parse.result import ParseResult
from metricspec.parse.yaml_values import INVALID, Place, YMap, YSeq

Container = YMap | YSeq


def closest(name: str, allowed: tuple[str, ...]) -> str | None:
    """The allowed key `name` is most likely a misspelling of."""
    matches = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    lowered = {a.lower(): a for a in allowed}
    return lowered.get(name.lower())


class YamlReader:
    """Reads typed values out of position-carrying YAML mappings, collecting diagnostics:
    the shared part of every object reader (`yaml_spec`, `yaml_spec_experiment`)."""

    def __init__(self, file: str, text: str, result: ParseResult) -> None:
        self.file = file
        self.source_text = text
        self.line_starts = line_starts(text)
        self.result = result

    # ------------------------------------------------------------ positions and errors

    def span_at(self, line: int, column: int, width: int = 1) -> ir.Span:
        return ir.Span.point(self.file, line, column, width)

    def at(self, place: Place) -> ir.Span:
        return self.span_at(place.line, place.column, place.width)

    def name_span(self, place: Place) -> ir.Span:
        """A key's or list item's span, quotes included: a name is pointed at as a whole."""
        quoted = place.style in ('"', "'")
        return self.span_at(place.line, place.column - quoted, place.width + 2 * quoted)

    def key_span(self, node: YMap, key: str) -> ir.Span:
        return self.name_span(node.key_places[key])

    def value_span(self, node: YMap, key: str) -> ir.Span:
        return self.at(node.value_places[key])

    def item_span(self, node: YSeq, index: int) -> ir.Span:
        return self.name_span(node.item_places[index])

    def setting_spans(self, node: YMap, keys: tuple[str, ...]
                      ) -> tuple[tuple[str, ir.Span], ...]:
        """Where each of `keys` present in `node` has its value."""
        return tuple((key, self.value_span(node, key)) for key in keys if key in node)

    def error(self, code: str, message: str, span: ir.Span, hint: str | None = None) -> None:
        self.result.diagnostics.append(error(code, message, span, hint))

    def known(self, node: YMap, allowed: tuple[str, ...], kind: str) -> YMap:
        """Report keys that are not in `allowed` (MS105). A misspelt key whose right
        spelling is absent is read as that key, so one typo is one error: the object is
        not also reported as missing the setting."""
        for key in list(node):
            if key in allowed:
                continue
            guess = closest(key, allowed)
            hint = (f"did you mean `{guess}`?" if guess else
                    f"known keys: {', '.join(allowed)}")
            self.error("MS105", f"unknown {kind} key `{shown(key)}`", self.key_span(node, key),
                       hint)
            if guess is not None and guess not in node:
                node = node.copy_with(key, guess)
        return node

    # ------------------------------------------------------------ typed getters

    def scalar_text(self, node: Container, key: Any) -> str:
        """A scalar as it was written (`1.10` stays `1.10`, `true` stays `true`)."""
        place = node.value_places[key] if isinstance(node, YMap) else node.item_places[key]
        return place.text if place.text is not None else str(node[key])

    def text(self, node: YMap, key: str) -> str | None:
        value = node.get(key)
        if value is None or value is INVALID:
            return None
        if isinstance(value, (YMap, YSeq)):
            self.error("MS106", f"`{key}` must be text", self.value_span(node, key))
            return None
        return self.scalar_text(node, key)

    def number(self, node: YMap, key: str) -> float | None:
        value = node.get(key)
        if value is None or value is INVALID:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            amount = self.fragment(node, key, "amount_fragment")
            return amount.fraction if amount is not None else None
        return self.finite(node, key, value)

    def finite(self, node: YMap, key: str, value: float) -> float | None:
        """A YAML number as a float; infinities, NaN and numbers too large are MS107."""
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            self.error("MS107", f"`{key}` must be a finite number, not "
                       f"`{shown(self.scalar_text(node, key))}`", self.value_span(node, key))
            return None
        return number

    def whole(self, node: YMap, key: str) -> int | None:
        """A whole number setting (`min_n`, `looks`)."""
        value = node.get(key)
        if value is None or value is INVALID:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error("MS106", f"`{key}` must be a whole number", self.value_span(node, key))
            return None
        if abs(value) > MAX_WHOLE:
            self.error("MS107", f"`{key}` is too large", self.value_span(node, key))
            return None
        return value

    def names(self, node: YMap, key: str) -> tuple[ir.Ref, ...]:
        """A list of names, or a single name."""
        value = node.get(key)
        if value is None or value is INVALID:
            return ()
        if isinstance(value, YSeq):
            refs = []
            for i, item in enumerate(value):
                if item is INVALID:
                    continue
                if isinstance(item, (YMap, YSeq)) or item is None:
                    self.error("MS106", f"`{key}` must list names", self.item_span(value, i))
                    continue
                refs.append(ir.Ref(span=self.item_span(value, i),
                                   name=self.scalar_text(value, i)))
            return tuple(refs)
        if isinstance(value, YMap):
            self.error("MS106", f"`{key}` must be a name or a list of names",
                       self.value_span(node, key))
            return ()
        return (ir.Ref(span=self.value_span(node, key), name=self.scalar_text(node, key)),)

    def ref(self, node: YMap, key: str) -> ir.Ref | None:
        refs = self.names(node, key)
        if len(refs) > 1:
            self.error("MS106", f"`{key}` takes one name", refs[1].span)
        return refs[0] if refs else None

    def fragment(self, node: Container, key: Any, rule: str, prefix: str = "") -> Any:
        """Parse the scalar at `key` with a fragment rule of the DSL grammar.

        An optional leading word `prefix` (the DSL's `trailing` in `baseline trailing 1 hour`)
        is accepted and skipped.
        """
        value = node[key]
        place = node.value_places[key] if isinstance(node, YMap) else node.item_places[key]
        if value is INVALID:
            return None
        if isinstance(value, (YMap, YSeq)) or value is None:
            self.error("MS106", f"`{shown(str(key))}` must be a single value", self.at(place))
            return None
        text = self.scalar_text(node, key)
        quote = place.style if place.style in ('"', "'") else None
        if place.style in ("|", ">"):
            # The value is read from the line after the `|` or `>` indicator.
            start = self.line_starts[min(place.line, len(self.line_starts) - 1)]
        else:
            start = place.index
        scalar = ScalarMap(self.source_text, start, text, quote)
        if prefix and text.lstrip().startswith(prefix + " "):
            skipped = len(text) - len(text.lstrip()[len(prefix):].lstrip())
            scalar = scalar.shifted(skipped)
            text = text[skipped:]
        line, column = scalar.position(0)
        node_value, diagnostics = parse_fragment(text, rule, self.file, line, column,
                                                 scalar=scalar)
        self.result.diagnostics.extend(diagnostics)
        return node_value

    def optional(self, node: YMap, key: str, rule: str, prefix: str = "") -> Any:
        return self.fragment(node, key, rule, prefix) if key in node else None


def shown(text: str, limit: int = 60) -> str:
    """A key or value for a message: one line, at most `limit` characters."""
    one = text.replace("\n", " ")
    return one if len(one) <= limit else one[:limit - 1] + "…"
