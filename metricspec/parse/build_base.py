"""What every block of the DSL transformer shares: spans, numbers, the items of a block
and the declarative table of `key value;` settings.

The transformer builds and never judges: names are not resolved and values are not
range-checked here. The few things it must refuse to build — a duration in `fortnights`, a
date like `2026-13-01`, a setting given twice — become diagnostics in `self.diagnostics`; it
never raises, because Lark would wrap the exception in a `VisitError`.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any, Literal

from lark import Token, Transformer, Tree
from lark.exceptions import VisitError
from lark.tree import Meta

from metricspec import ir
from metricspec.diagnostics import Diagnostic, error

if TYPE_CHECKING:
    from metricspec.parse.positions import ScalarMap

TIME_UNITS: dict[str, str] = {
    "minute": "minute", "minutes": "minute", "min": "minute", "mins": "minute",
    "hour": "hour", "hours": "hour", "h": "hour",
    "day": "day", "days": "day", "d": "day",
    "week": "week", "weeks": "week", "w": "week",
    # calendar units: rolling windows only (check: MS448)
    "month": "month", "months": "month", "quarter": "quarter", "quarters": "quarter",
    "year": "year", "years": "year",
}

# Experiment and monitor settings that may appear once; list-like ones may repeat.
REPEATABLE = {"primary", "secondary", "guardrail", "segments", "winsorize", "covariates",
              "dimensions", "entities", "columns", "derived"}

# Whole numbers (counts, durations) above this are surely typos; they are also beyond what
# dates and warehouses can hold.
MAX_WHOLE = 10**12
# A duration longer than this cannot be added to a date without leaving the calendar.
MAX_DURATION_SECONDS = 100 * 366 * 86400

Read = Literal["value", "text", "word", "lowercase", "name", "all", "fraction", "whole"]

#: The grammar rules that are one `key value;` setting: rule -> (setting key, how its value
#: is read). `value`: the value as built; `text`: a string literal; `word`/`lowercase`: a
#: keyword, pointed at on its own; `name`: a reference; `all`: every child, as a tuple;
#: `fraction`: an amount as a plain number; `whole`: a whole number.
SETTINGS: dict[str, tuple[str, Read]] = {
    "label": ("label", "text"), "label_item": ("label", "text"),
    "description": ("description", "text"), "owner": ("owner", "text"),
    # sources
    "entities": ("entities", "value"), "dimensions": ("dimensions", "value"),
    "columns": ("columns", "value"), "time_column": ("time", "value"),
    # metrics
    "unit": ("unit", "value"), "format": ("format", "word"),
    "direction": ("direction", "word"), "metric_version": ("version", "whole"),
    # KPI trees
    "north_star": ("north_star", "name"),
    # experiments
    "unit_item": ("unit", "name"), "variants": ("variants", "all"),
    "primary": ("primary", "value"), "secondary": ("secondary", "value"),
    "segments": ("segments", "value"), "alpha": ("alpha", "fraction"),
    "power": ("power", "fraction"), "srm_alpha": ("srm_alpha", "fraction"),
    "correction": ("correction", "lowercase"), "cuped": ("cuped", "value"),
    "analysis": ("analysis", "lowercase"), "chance_to_win": ("chance_to_win", "fraction"),
    "max_risk": ("max_risk", "fraction"), "stratify": ("stratify", "name"),
    # monitors
    "monitor_metric": ("metric", "name"), "every": ("every", "value"),
    "baseline_window": ("baseline", "value"), "alert": ("alert", "value"),
    "min_n": ("min_n", "whole"), "monitor_dimensions": ("dimensions", "value"),
    # the calendar
    "calendar_timezone": ("timezone", "text"), "week_start": ("week_start", "lowercase"),
    "fiscal_year_start": ("fiscal_year_start", "lowercase"),
    "source_timezone": ("timezone", "text"),
}


# Per builder class: rule -> (its `SETTINGS` entry, its method), filled as rules are met.
_RULES: dict[type, dict[str, tuple[tuple[str, Read] | None, Any]]] = {}


class Item:
    """A keyword item inside a block: its key, value, its span (for settings given twice)
    and the span of the value (for diagnostics about the value)."""

    __slots__ = ("key", "span", "value", "value_span")

    def __init__(self, key: str, value: Any, span: ir.Span,
                 value_span: ir.Span | None = None) -> None:
        self.key, self.value, self.span = key, value, span
        self.value_span = value_span or span


class BuilderBase(Transformer[Token, Any]):
    """Build IR from a parse tree of `grammar/metricspec.lark` (the shared part; each spec
    block adds its rules in its own module, and `build.Builder` combines them).

    Args:
        file: the file name spans should carry.
        line_offset: added to every line (the YAML front end parses fragments of a file).
        column_offset: added to columns on the fragment's first line.
        scalar: for a fragment read from a YAML scalar, where each of its characters sits in
            the file (takes precedence over the offsets).
    """

    def __init__(self, file: str, line_offset: int = 0, column_offset: int = 0,
                 scalar: ScalarMap | None = None) -> None:
        super().__init__()
        self.file = file
        self.line_offset = line_offset
        self.column_offset = column_offset
        self.scalar = scalar
        self.diagnostics: list[Diagnostic] = []

    def transform(self, tree: Tree[Token]) -> Any:
        """Build the value of `tree`, children first.

        Lark's `Transformer.transform` does the same through a generator per node and a
        look-up of each token's type (this builder has no token rules); building IR was a
        third of parsing a `.mspec` file."""
        children = [self.transform(c) if isinstance(c, Tree) else c for c in tree.children]
        return self._call_userfunc(tree, children)

    def _call_userfunc(self, tree: Tree[Token], new_children: list[Any] | None = None) -> Any:
        """Call the rule's method as `method(meta, children)`.

        This is what `@v_args(meta=True)` does, without the wrapper Lark builds on every
        call (a third of the time spent building IR). Which method reads each rule is
        looked up once per builder class.
        """
        children = tree.children if new_children is None else new_children
        rules = _RULES.get(type(self))
        if rules is None:
            rules = _RULES[type(self)] = {}
        data = tree.data
        found = rules.get(data)
        if found is None:
            setting = SETTINGS.get(data)
            found = rules[data] = (setting, getattr(type(self), data, None))
        setting, method = found
        if setting is None and method is None:
            return self.__default__(data, children, tree.meta)  # type: ignore[no-untyped-call]
        try:
            if setting is not None:
                return self._setting(*setting, tree.meta, children)
            return method(self, tree.meta, children)
        except Exception as exc:
            raise VisitError(data, tree, exc) from exc  # type: ignore[no-untyped-call]

    def _pos(self, line: int, column: int, end: bool = False) -> tuple[int, int]:
        if self.scalar is not None and line > 0:
            return self.scalar.locate(line, column, end)
        if line == 1:
            column += self.column_offset
        return line + self.line_offset, column

    def span_of(self, meta: Meta | Token) -> ir.Span:
        if isinstance(meta, Meta) and meta.empty:
            return ir.Span.unknown(self.file)
        if self.scalar is not None:
            line, column = self._pos(meta.line or 0, meta.column or 0)
            end_line, end_column = self._pos(meta.end_line or 0, meta.end_column or 0, end=True)
        else:  # `_pos` inlined: every node of a `.mspec` file has its span taken here
            line, column = meta.line or 0, meta.column or 0
            end_line, end_column = meta.end_line or 0, meta.end_column or 0
            if line == 1:
                column += self.column_offset
            if end_line == 1:
                end_column += self.column_offset
            line += self.line_offset
            end_line += self.line_offset
        return ir.Span(file=self.file, line=line, column=column, end_line=end_line,
                       end_column=end_column)

    def _number(self, token: Token) -> float:
        """A NUMBER token's value; one too large for a float is reported, not made infinite."""
        value = float(token)
        if not math.isfinite(value):
            self._error("MS107", f"the number `{token}` is too large", token)
            return sys.float_info.max
        return value

    def _whole(self, token: Token, what: str) -> int:
        """A NUMBER token that must be a whole number (a count of looks, windows, units…)."""
        value = self._number(token)
        if value > MAX_WHOLE:
            self._error("MS107", f"{what} `{token}` is too large", token)
            return MAX_WHOLE
        if value != int(value):
            self._error("MS107", f"{what} must be a whole number, not `{token}`", token)
        return int(value)

    def _error(self, code: str, message: str, at: Meta | Token, hint: str | None = None) -> None:
        self.diagnostics.append(error(code, message, self.span_of(at), hint))

    def _ref(self, token: Token) -> ir.Ref:
        return ir.Ref(span=self.span_of(token), name=str(token))

    def start(self, meta: Meta, children: list[Any]) -> list[Any]:
        return [c for c in children if c is not None]

    def name_list(self, meta: Meta, children: list[Token]) -> tuple[ir.Ref, ...]:
        return tuple(self._ref(t) for t in children)

    def dimension_list(self, meta: Meta, children: list[ir.Ref]) -> tuple[ir.Ref, ...]:
        return tuple(children)

    def dimension_ref(self, meta: Meta, children: list[Token]) -> ir.Ref:
        """A dotted reference, one `Ref` spanning all its parts (`users.plan`)."""
        return ir.Ref(span=self.span_of(meta), name=".".join(str(t) for t in children))

    def signed_number(self, meta: Meta, children: list[Token]) -> float:
        return self._number(children[0])

    def negative_number(self, meta: Meta, children: list[Token]) -> float:
        return -self._number(children[0])

    def duration(self, meta: Meta, children: list[Token]) -> ir.Duration:
        number, unit = children
        value = self._number(number)
        unit_name = TIME_UNITS.get(str(unit).lower())
        if unit_name is None:
            self._error("MS107", f"unknown time unit `{unit}`", unit,
                        "use minutes, hours, days, weeks, months or quarters")
            unit_name = "day"
        if value * ir.SECONDS[unit_name] > MAX_DURATION_SECONDS:
            self._error("MS107", f"a duration of `{number} {unit}` is longer than a century",
                        number)
            value = MAX_DURATION_SECONDS // ir.SECONDS[unit_name]
        elif value != int(value) or value <= 0:
            self._error("MS107", f"a duration needs a positive whole number, not `{number}`",
                        number, f"write it in a smaller unit, e.g. `{int(value * 60)} minutes`"
                        if unit_name == "hour" and value > 0 else None)
        return ir.Duration(span=self.span_of(meta), value=max(1, int(value)),
                           unit=unit_name)

    def plain_amount(self, meta: Meta, children: list[Any]) -> ir.Amount:
        return ir.Amount(span=self.span_of(meta), value=self._number(children[0]),
                         kind="number")

    def negative_amount(self, meta: Meta, children: list[Token]) -> ir.Amount:
        return ir.Amount(span=self.span_of(meta), value=-self._number(children[0]),
                         kind="number")

    def percent_amount(self, meta: Meta, children: list[Token]) -> ir.Amount:
        return ir.Amount(span=self.span_of(meta), value=self._number(children[0]),
                         kind="percent")

    def pp_amount(self, meta: Meta, children: list[Token]) -> ir.Amount:
        return ir.Amount(span=self.span_of(meta), value=self._number(children[0]), kind="pp")

    def _setting(self, key: str, read: Read, meta: Meta, children: list[Any]) -> Item:
        """One `key value;` setting of the `SETTINGS` table."""
        span = self.span_of(meta)
        first: Any = children[0] if children else None
        if read == "text":
            return Item(key, string_value(first), span, self.span_of(first))
        if read in ("word", "lowercase"):
            word = str(first).lower() if read == "lowercase" else str(first)
            return Item(key, word, span, self.span_of(first))
        if read == "name":
            return Item(key, self._ref(first), span)
        if read == "all":
            return Item(key, tuple(children), span)
        if read == "fraction":
            return Item(key, first.fraction, span, first.span)
        if read == "whole":
            return Item(key, self._whole(first, key), span, self.span_of(first))
        return Item(key, first, span)

    @staticmethod
    def _setting_spans(items: list[Any]) -> tuple[tuple[str, ir.Span], ...]:
        """Where each single-valued setting's value was written (the first, if repeated)."""
        spans: dict[str, ir.Span] = {}
        for item in items:
            if isinstance(item, Item) and item.key not in REPEATABLE:
                spans.setdefault(item.key, item.value_span)
        return tuple(spans.items())

    def _settings(self, items: list[Any], kind: str) -> dict[str, Any]:
        """Collect block items into a dict, reporting settings given twice."""
        out: dict[str, Any] = {}
        for item in items:
            if not isinstance(item, Item):
                continue
            if item.key in REPEATABLE:
                out.setdefault(item.key, []).append(item.value)
            elif item.key in out:
                self.diagnostics.append(error(
                    "MS108", f"`{item.key}` is set twice in this {kind}", item.span,
                    "keep one of them"))
            else:
                out[item.key] = item.value
        return out


def string_value(token: Token) -> str:
    """The value of a STRING token: quotes removed, backslash escapes resolved."""
    text = str(token)
    body = text[3:-3] if text.startswith('"""') else text[1:-1]
    if "\\" not in body:
        return body
    out, i = [], 0
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append(escapes.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def flat(groups: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    return tuple(item for group in groups for item in group)
