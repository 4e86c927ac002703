"""The Lark transformer that turns a parse tree into IR.

It builds and never judges: names are not resolved and values are not range-checked here.
The few things it must refuse to build — a duration in `fortnights`, a date like
`2026-13-01`, a setting given twice — become diagnostics in `self.diagnostics`; it never
raises, because Lark would wrap the exception in a `VisitError`.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from typing import TYPE_CHECKING, Any

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
}

# Experiment and monitor settings that may appear once; list-like ones may repeat.
_REPEATABLE = {"primary", "secondary", "guardrail", "segments", "winsorize", "dimensions",
               "entities", "columns"}

# Whole numbers (counts, durations) above this are surely typos; they are also beyond what
# dates and warehouses can hold.
MAX_WHOLE = 10**12
# A duration longer than this cannot be added to a date without leaving the calendar.
MAX_DURATION_SECONDS = 100 * 366 * 86400


class _Item:
    """A keyword item inside a block: its key, value, its span (for settings given twice)
    and the span of the value (for diagnostics about the value)."""

    __slots__ = ("key", "span", "value", "value_span")

    def __init__(self, key: str, value: Any, span: ir.Span,
                 value_span: ir.Span | None = None) -> None:
        self.key, self.value, self.span = key, value, span
        self.value_span = value_span or span


class Builder(Transformer[Token, Any]):
    """Build IR from a parse tree of `grammar/metricspec.lark`.

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

    def _call_userfunc(self, tree: Tree[Token], new_children: list[Any] | None = None) -> Any:
        """Call the rule's method as `method(meta, children)`.

        This is what `@v_args(meta=True)` does, without the wrapper Lark builds on every
        call (a third of the time spent building IR).
        """
        children = tree.children if new_children is None else new_children
        method = getattr(self, tree.data, None)
        if method is None:
            return self.__default__(tree.data, children, tree.meta)  # type: ignore[no-untyped-call]
        try:
            return method(tree.meta, children)
        except Exception as exc:
            raise VisitError(tree.data, tree, exc) from exc  # type: ignore[no-untyped-call]

    # ------------------------------------------------------------ spans

    def _pos(self, line: int, column: int, end: bool = False) -> tuple[int, int]:
        if self.scalar is not None and line > 0:
            return self.scalar.locate(line, column, end)
        if line == 1:
            column += self.column_offset
        return line + self.line_offset, column

    def span_of(self, meta: Meta | Token) -> ir.Span:
        if isinstance(meta, Meta) and meta.empty:
            return ir.Span.unknown(self.file)
        line, column = self._pos(meta.line or 0, meta.column or 0)
        end_line, end_column = self._pos(meta.end_line or 0, meta.end_column or 0, end=True)
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

    # ------------------------------------------------------------ shared pieces

    def start(self, meta: Meta, children: list[Any]) -> list[Any]:
        return [c for c in children if c is not None]

    def label(self, meta: Meta, children: list[Token]) -> _Item:
        return _Item("label", _string(children[0]), self.span_of(meta))

    def name_list(self, meta: Meta, children: list[Token]) -> tuple[ir.Ref, ...]:
        return tuple(self._ref(t) for t in children)

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
                        "use minutes, hours, days or weeks")
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

    def description(self, meta: Meta, children: list[Token]) -> _Item:
        return _Item("description", _string(children[0]), self.span_of(meta))

    def owner(self, meta: Meta, children: list[Token]) -> _Item:
        return _Item("owner", _string(children[0]), self.span_of(meta))

    def label_item(self, meta: Meta, children: list[Token]) -> _Item:
        return _Item("label", _string(children[0]), self.span_of(meta))

    @staticmethod
    def _setting_spans(items: list[Any]) -> tuple[tuple[str, ir.Span], ...]:
        """Where each single-valued setting's value was written (the first, if repeated)."""
        spans: dict[str, ir.Span] = {}
        for item in items:
            if isinstance(item, _Item) and item.key not in _REPEATABLE:
                spans.setdefault(item.key, item.value_span)
        return tuple(spans.items())

    def _settings(self, items: list[Any], kind: str) -> dict[str, Any]:
        """Collect block items into a dict, reporting settings given twice."""
        out: dict[str, Any] = {}
        for item in items:
            if not isinstance(item, _Item):
                continue
            if item.key in _REPEATABLE:
                out.setdefault(item.key, []).append(item.value)
            elif item.key in out:
                self.diagnostics.append(error(
                    "MS108", f"`{item.key}` is set twice in this {kind}", item.span,
                    "keep one of them"))
            else:
                out[item.key] = item.value
        return out

    # ------------------------------------------------------------ sources

    def source(self, meta: Meta, children: list[Any]) -> ir.Source:
        name = children[0]
        items = [c for c in children[1:] if c is not None]
        settings = self._settings([i for i in items if isinstance(i, _Item)], "source")
        origin = next(c for c in items if isinstance(c, tuple))
        return ir.Source(
            span=self.span_of(name), name=str(name),
            label=settings.get("label"), description=settings.get("description"),
            owner=settings.get("owner"),
            table=origin[1] if origin[0] == "table" else None,
            query=origin[1] if origin[0] == "query" else None,
            entities=_flat(settings.get("entities", [])), time=settings.get("time"),
            dimensions=_flat(settings.get("dimensions", [])),
            columns=_flat(settings.get("columns", [])),
        )

    def table_origin(self, meta: Meta, children: list[Any]) -> tuple[str, tuple[str, ...]]:
        return ("table", children[0])

    def query_origin(self, meta: Meta, children: list[Token]) -> tuple[str, str]:
        return ("query", _string(children[0]))

    def qualified_name(self, meta: Meta, children: list[Token]) -> tuple[str, ...]:
        return tuple(str(t) for t in children)

    def source_item(self, meta: Meta, children: list[Any]) -> None:
        return None

    def entities(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("entities", children[0], self.span_of(meta))

    def dimensions(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("dimensions", children[0], self.span_of(meta))

    def columns(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("columns", children[0], self.span_of(meta))

    def time_column(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("time", children[0], self.span_of(meta))

    def column_list(self, meta: Meta, children: list[ir.Column]) -> tuple[ir.Column, ...]:
        return tuple(children)

    def column_decl(self, meta: Meta, children: list[Token]) -> ir.Column:
        type_ = str(children[1]).lower() if len(children) > 1 else None
        type_span = self.span_of(children[1]) if len(children) > 1 else None
        return ir.Column(span=self.span_of(children[0]), name=str(children[0]), type=type_,
                         type_span=type_span)

    # ------------------------------------------------------------ metrics

    def metric(self, meta: Meta, children: list[Any]) -> ir.Metric:
        name, rest = children[0], children[1:]
        items: list[_Item] = []
        expr = None
        for child in rest:
            if isinstance(child, _Item):
                items.append(child)
            elif isinstance(child, list):
                items.extend(i for i in child if isinstance(i, _Item))
            elif child is not None:
                expr = child
        settings = self._settings(items, "metric")
        return ir.Metric(
            span=self.span_of(name), name=str(name), expr=expr,
            label=settings.get("label"), description=settings.get("description"),
            owner=settings.get("owner"), unit=settings.get("unit"),
            format=settings.get("format"), direction=settings.get("direction"),
            tags=settings.get("tags", ()), baseline=settings.get("baseline"),
            setting_spans=self._setting_spans(items),
        )

    def meta_block(self, meta: Meta, children: list[Any]) -> list[Any]:
        return [c for c in children if c is not None]

    def meta_item(self, meta: Meta, children: list[Any]) -> None:
        return None

    def unit(self, meta: Meta, children: list[str]) -> _Item:
        return _Item("unit", children[0], self.span_of(meta))

    def unit_expr(self, meta: Meta, children: list[str]) -> str:
        return "".join(children)

    def unit_factor(self, meta: Meta, children: list[Token]) -> str:
        return str(children[0])

    def unit_op(self, meta: Meta, children: list[Token]) -> str:
        return str(children[0])

    def format(self, meta: Meta, children: list[Token]) -> _Item:
        return _Item("format", str(children[0]), self.span_of(meta), self.span_of(children[0]))

    def direction(self, meta: Meta, children: list[Token]) -> _Item:
        return _Item("direction", str(children[0]), self.span_of(meta),
                     self.span_of(children[0]))

    def tags(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("tags", tuple(r.name for r in children[0]), self.span_of(meta))

    def baseline(self, meta: Meta, children: list[Any]) -> _Item:
        sd = self._number(children[1]) if len(children) > 1 else None
        value = ir.Baseline(span=self.span_of(meta), mean=children[0], sd=sd)
        return _Item("baseline", value, self.span_of(meta))

    # ------------------------------------------------------------ expressions

    def number(self, meta: Meta, children: list[Token]) -> ir.Number:
        return ir.Number(span=self.span_of(meta), value=self._number(children[0]))

    def percent_number(self, meta: Meta, children: list[Token]) -> ir.Number:
        return ir.Number(span=self.span_of(meta), value=self._number(children[0]) / 100.0)

    def negative_number_literal(self, meta: Meta, children: list[Token]) -> ir.Number:
        return ir.Number(span=self.span_of(meta), value=-self._number(children[0]))

    def negative_percent_number(self, meta: Meta, children: list[Token]) -> ir.Number:
        return ir.Number(span=self.span_of(meta), value=-self._number(children[0]) / 100.0)

    def metric_ref(self, meta: Meta, children: list[Token]) -> ir.MetricRef:
        return ir.MetricRef(span=self.span_of(meta), name=str(children[0]))

    def _binary(self, op: str, meta: Meta, children: list[Any]) -> ir.BinaryOp:
        return ir.BinaryOp(span=self.span_of(meta), op=op,
                           left=children[0], right=children[1])

    def add(self, meta: Meta, children: list[Any]) -> ir.BinaryOp:
        return self._binary("+", meta, children)

    def sub(self, meta: Meta, children: list[Any]) -> ir.BinaryOp:
        return self._binary("-", meta, children)

    def mul(self, meta: Meta, children: list[Any]) -> ir.BinaryOp:
        return self._binary("*", meta, children)

    def div(self, meta: Meta, children: list[Any]) -> ir.BinaryOp:
        return self._binary("/", meta, children)

    def neg(self, meta: Meta, children: list[Any]) -> ir.Negate:
        return ir.Negate(span=self.span_of(meta), operand=children[0])

    def aggregate(self, meta: Meta, children: list[Any]) -> ir.Aggregate:
        func_token, (source, column) = children[0], children[1]
        flt = children[2] if len(children) > 2 else None
        func, quantile = _agg_func(str(func_token))
        if quantile is not None:
            quantile = self._quantile(quantile, str(func_token), func_token)
        return ir.Aggregate(span=self.span_of(meta), func=func,
                            source=source, column=column, quantile=quantile, filter=flt)

    def quantile(self, meta: Meta, children: list[Any]) -> ir.Aggregate:
        source, column = children[0]
        flt = children[1] if len(children) > 2 else None
        value, written, at = children[-1]
        return ir.Aggregate(span=self.span_of(meta), func="quantile", source=source,
                            column=column, quantile=self._quantile(value, written, at),
                            filter=flt)

    def _quantile(self, value: float, written: str, at: Meta | Token) -> float | None:
        """A quantile in (0, 1); otherwise MS402 at the argument (`1.5`, `95%`, the `p100`
        of `p100(x)`) and None, so the checker does not report it again."""
        if written.endswith("%"):
            self._error("MS402", f"quantile {written} is outside (0, 1): a quantile is a "
                        "fraction, not a percentage", at, _fraction_hint(value))
            return None
        if 0 < value < 1:
            return value
        hint = ("use max(…) for the largest value" if value == 1 else
                "use min(…) for the smallest value" if value == 0 else
                "write a quantile as a fraction: 0.95, or use p95(…)")
        shown = f"`{written}` asks for quantile {value:g}, which" if written.startswith("p") \
            else f"quantile {written}"
        self._error("MS402", f"{shown} is outside (0, 1)", at, hint)
        return None

    def quantile_number(self, meta: Meta, children: list[Token]) -> tuple[float, str, Meta]:
        return self._number(children[0]), str(children[0]), meta

    def quantile_negative(self, meta: Meta, children: list[Token]) -> tuple[float, str, Meta]:
        return -self._number(children[0]), f"-{children[0]}", meta

    def quantile_percent(self, meta: Meta, children: list[Token]) -> tuple[float, str, Meta]:
        return self._number(children[0]) / 100.0, f"{children[0]}%", meta

    def quantile_negative_percent(self, meta: Meta, children: list[Token]
                                  ) -> tuple[float, str, Meta]:
        return -self._number(children[0]) / 100.0, f"-{children[0]}%", meta

    def column_ref(self, meta: Meta, children: list[Token]) -> tuple[ir.Ref, ir.Ref | None]:
        source = self._ref(children[0])
        return source, (self._ref(children[1]) if len(children) > 1 else None)

    def filter(self, meta: Meta, children: list[Token]) -> ir.Filter:
        return self._filter(children[0])

    def assignment_filter(self, meta: Meta, children: list[Token]) -> ir.Filter:
        return self._filter(children[0])

    def filter_fragment(self, meta: Meta, children: list[Token]) -> ir.Filter:
        return self._filter(children[0])

    def _filter(self, token: Token) -> ir.Filter:
        text = str(token)
        if self.scalar is not None and token.start_pos is not None:
            return self._scalar_filter(token.start_pos, text)
        line, column = token.line or 1, token.column or 1
        for ch in text[: len(text) - len(text.lstrip())]:
            line, column = (line + 1, 1) if ch == "\n" else (line, column + 1)
        body = text.strip()
        lines = body.split("\n")
        end_line = line + len(lines) - 1
        end_column = (column if len(lines) == 1 else 1) + len(lines[-1])
        start = self._pos(line, column)
        end = self._pos(end_line, end_column)
        span = ir.Span(file=self.file, line=start[0], column=start[1], end_line=end[0],
                       end_column=end[1])
        return ir.Filter(span=span, sql=body)

    def _scalar_filter(self, offset: int, text: str) -> ir.Filter:
        """A filter inside a YAML scalar: positioned character by character; when its text
        is not laid out in the file as in the value, it records where each run of it is."""
        assert self.scalar is not None
        start = offset + len(text) - len(text.lstrip())
        end = offset + len(text.rstrip())
        line, column = self.scalar.position(start)
        end_line, end_column = self.scalar.end_position(end)
        runs = self.scalar.runs(start, end)
        layout = tuple(ir.Span(file=self.file, line=run_line, column=run_column,
                               end_line=run_line, end_column=run_column + length)
                       for run_line, run_column, length in runs) if len(runs) > 1 else ()
        span = ir.Span(file=self.file, line=line, column=column, end_line=end_line,
                       end_column=end_column)
        return ir.Filter(span=span, sql=text.strip(), layout_spans=layout)

    def weighted(self, meta: Meta, children: list[ir.WeightedTerm]) -> ir.Weighted:
        return ir.Weighted(span=self.span_of(meta), terms=tuple(children))

    def weighted_term(self, meta: Meta, children: list[Any]) -> ir.WeightedTerm:
        return ir.WeightedTerm(span=self.span_of(meta), expr=children[0],
                               weight=children[1].value)

    def conversion(self, meta: Meta, children: list[Any]) -> ir.Conversion:
        entity = self._ref(children[3]) if len(children) > 3 else None
        return ir.Conversion(span=self.span_of(meta), start=children[0], end=children[1],
                             within=children[2], entity=entity)

    def event_set(self, meta: Meta, children: list[Any]) -> ir.EventSet:
        flt = children[1] if len(children) > 1 else None
        return ir.EventSet(span=self.span_of(meta), source=self._ref(children[0]), filter=flt)

    def rolling(self, meta: Meta, children: list[Any]) -> ir.Window:
        return ir.Window(span=self.span_of(meta), mode="rolling", expr=children[0],
                         length=children[1])

    def cumulative(self, meta: Meta, children: list[Any]) -> ir.Window:
        return ir.Window(span=self.span_of(meta), mode="cumulative", expr=children[0])

    # ------------------------------------------------------------ KPI trees

    def kpi(self, meta: Meta, children: list[Any]) -> ir.Kpi:
        name = children[0]
        items = [c for c in children[1:] if c is not None]
        settings = self._settings([i for i in items if isinstance(i, _Item)], "KPI tree")
        edges = tuple(i for i in items if isinstance(i, ir.KpiEdge))
        return ir.Kpi(span=self.span_of(name), name=str(name), label=settings.get("label"),
                      description=settings.get("description"), owner=settings.get("owner"),
                      north_star=settings.get("north_star"), edges=edges)

    def north_star(self, meta: Meta, children: list[Token]) -> _Item:
        return _Item("north_star", self._ref(children[0]), self.span_of(meta))

    def kpi_item(self, meta: Meta, children: list[Any]) -> Any:
        return children[0] if children else None

    def kpi_edge(self, meta: Meta, children: list[Any]) -> ir.KpiEdge:
        composition, drivers = children[1]
        return ir.KpiEdge(span=self.span_of(meta), parent=self._ref(children[0]),
                          composition=composition, drivers=tuple(drivers))

    def composition(self, meta: Meta, children: list[Any]) -> tuple[str, list[ir.Driver]]:
        return str(children[0]), children[1:]

    def influence(self, meta: Meta, children: list[ir.Driver]) -> tuple[str, list[ir.Driver]]:
        return "drivers", children

    def driver(self, meta: Meta, children: list[Any]) -> ir.Driver:
        weight = children[1].value if len(children) > 1 else None
        return ir.Driver(span=self.span_of(meta), metric=self._ref(children[0]), weight=weight)

    # ------------------------------------------------------------ guardrails

    def guardrail(self, meta: Meta, children: list[Any]) -> ir.Guardrail:
        name = children[0]
        rest = [c for c in children[1:] if c is not None]
        label = next((c.value for c in rest if isinstance(c, _Item)), None)
        tokens = [c for c in rest if isinstance(c, Token)]
        amount = next(c for c in rest if isinstance(c, ir.Amount))
        every = next((c for c in rest if isinstance(c, ir.Duration)), None)
        block = next((c for c in rest if isinstance(c, list)), [])
        settings = self._settings(block, "guardrail")
        return ir.Guardrail(
            span=self.span_of(name), name=str(name), metric=self._ref(tokens[0]),
            comparator=str(tokens[1]), threshold=amount, every=every,
            label=settings.get("label", label), description=settings.get("description"),
            owner=settings.get("owner"))

    def guardrail_every(self, meta: Meta, children: list[ir.Duration]) -> ir.Duration:
        return children[0]

    # ------------------------------------------------------------ experiments

    def experiment(self, meta: Meta, children: list[Any]) -> ir.Experiment:
        name = children[0]
        items = [c for c in children[1:] if isinstance(c, _Item)]
        s = self._settings(items, "experiment")
        fields: dict[str, Any] = {
            key: s[key] for key in (
                "label", "description", "owner", "unit", "assignment", "window", "alpha",
                "power", "mde", "correction", "cuped", "sequential", "traffic", "srm_alpha")
            if key in s
        }
        fields["variants"] = s.get("variants", ())
        for key in ("primary", "secondary", "segments"):
            fields[key] = _flat(s.get(key, []))
        fields["guardrails"] = tuple(s.get("guardrail", []))
        fields["winsorize"] = tuple(s.get("winsorize", []))
        return ir.Experiment(span=self.span_of(name), name=str(name),
                             setting_spans=self._setting_spans(items), **fields)

    def experiment_item(self, meta: Meta, children: list[Any]) -> None:
        return None

    def unit_item(self, meta: Meta, children: list[Token]) -> _Item:
        return _Item("unit", self._ref(children[0]), self.span_of(meta))

    def assignment(self, meta: Meta, children: list[Any]) -> _Item:
        tokens = [c for c in children if isinstance(c, Token)]
        flt = next((c for c in children if isinstance(c, ir.Filter)), None)
        value = ir.Assignment(
            span=self.span_of(meta), source=self._ref(tokens[0]),
            variant_column=self._ref(tokens[1]) if len(tokens) > 1 else None, filter=flt)
        return _Item("assignment", value, self.span_of(meta))

    def variants(self, meta: Meta, children: list[ir.Variant]) -> _Item:
        return _Item("variants", tuple(children), self.span_of(meta))

    def variant(self, meta: Meta, children: list[Any]) -> ir.Variant:
        return ir.Variant(span=self.span_of(meta), name=str(children[0]), weight=children[1],
                          is_control=len(children) > 2)


    def window(self, meta: Meta, children: list[Token]) -> _Item:
        start, _start_is_date = self._date(children[0])
        end, end_is_date = self._date(children[1])
        value = ir.AnalysisWindow(span=self.span_of(meta), start=start, end=end,
                                  end_is_date=end_is_date)
        return _Item("window", value, self.span_of(meta))

    def _date(self, token: Token) -> tuple[dt.datetime, bool]:
        text = str(token)
        try:
            return dt.datetime.fromisoformat(text), "T" not in text
        except ValueError:
            self._error("MS107", f"`{text}` is not a valid date", token,
                        "write dates as YYYY-MM-DD or YYYY-MM-DDTHH:MM")
            return dt.datetime(1970, 1, 1), True

    def primary(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("primary", children[0], self.span_of(meta))

    def secondary(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("secondary", children[0], self.span_of(meta))

    def segments(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("segments", children[0], self.span_of(meta))

    def experiment_guardrail(self, meta: Meta, children: list[Any]) -> _Item:
        margin = children[1] if len(children) > 1 else None
        value = ir.ExperimentGuardrail(span=self.span_of(meta), metric=self._ref(children[0]),
                                       margin=margin)
        return _Item("guardrail", value, self.span_of(meta))

    def margin(self, meta: Meta, children: list[Any]) -> ir.Margin:
        return ir.Margin(span=self.span_of(meta), kind=str(children[0]),
                         amount=children[1])

    def margin_fragment(self, meta: Meta, children: list[ir.Margin]) -> ir.Margin:
        return children[0]

    def alpha(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("alpha", _fraction(children[0]), self.span_of(meta), children[0].span)

    def power(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("power", _fraction(children[0]), self.span_of(meta), children[0].span)

    def srm_alpha(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("srm_alpha", _fraction(children[0]), self.span_of(meta),
                     children[0].span)

    def mde(self, meta: Meta, children: list[Any]) -> _Item:
        amount: ir.Amount = children[0]
        kind = str(children[1]) if len(children) > 1 else None
        relative = kind == "relative" or (kind is None and amount.kind == "percent")
        value = ir.Mde(span=self.span_of(meta), amount=amount, relative=relative)
        return _Item("mde", value, self.span_of(meta))

    def correction(self, meta: Meta, children: list[Token]) -> _Item:
        return _Item("correction", str(children[0]).lower(), self.span_of(meta),
                     self.span_of(children[0]))

    def cuped(self, meta: Meta, children: list[ir.Duration]) -> _Item:
        return _Item("cuped", children[0], self.span_of(meta))

    def sequential(self, meta: Meta, children: list[Token]) -> _Item:
        looks = self._whole(children[0], "the number of looks") if children else None
        return _Item("sequential", ir.Sequential(span=self.span_of(meta), looks=looks),
                     self.span_of(meta))

    def winsorize(self, meta: Meta, children: list[Any]) -> _Item:
        value = ir.Winsorize(span=self.span_of(meta), metrics=children[0],
                             percentile=children[1])
        return _Item("winsorize", value, self.span_of(meta))

    def traffic(self, meta: Meta, children: list[Token]) -> _Item:
        value = ir.Traffic(span=self.span_of(meta),
                           units=self._whole(children[0], "the traffic"), per=str(children[1]))
        return _Item("traffic", value, self.span_of(meta))

    # ------------------------------------------------------------ monitors

    def monitor(self, meta: Meta, children: list[Any]) -> ir.Monitor:
        name = children[0]
        s = self._settings([c for c in children[1:] if isinstance(c, _Item)], "monitor")
        return ir.Monitor(
            span=self.span_of(name), name=str(name), label=s.get("label"),
            description=s.get("description"), owner=s.get("owner"), metric=s.get("metric"),
            every=s.get("every"), baseline=s.get("baseline"), alert=s.get("alert"),
            min_n=s.get("min_n"),
            dimensions=_flat(s.get("dimensions", [])),
            setting_spans=self._setting_spans([c for c in children[1:] if isinstance(c, _Item)]))

    def monitor_item(self, meta: Meta, children: list[Any]) -> None:
        return None

    def monitor_metric(self, meta: Meta, children: list[Token]) -> _Item:
        return _Item("metric", self._ref(children[0]), self.span_of(meta))

    def every(self, meta: Meta, children: list[ir.Duration]) -> _Item:
        return _Item("every", children[0], self.span_of(meta))

    def baseline_window(self, meta: Meta, children: list[ir.Duration]) -> _Item:
        return _Item("baseline", children[0], self.span_of(meta))

    def alert(self, meta: Meta, children: list[ir.AlertRule]) -> _Item:
        return _Item("alert", children[0], self.span_of(meta))

    def min_n(self, meta: Meta, children: list[Token]) -> _Item:
        return _Item("min_n", self._whole(children[0], "min_n"), self.span_of(meta),
                     self.span_of(children[0]))

    def monitor_dimensions(self, meta: Meta, children: list[Any]) -> _Item:
        return _Item("dimensions", children[0], self.span_of(meta))

    def alert_rule(self, meta: Meta, children: list[Any]) -> ir.AlertRule:
        kind, threshold = children[0]
        consecutive = 1
        if len(children) > 1:
            count, unit = children[1], children[2]
            consecutive = self._whole(count, "the number of windows")
            if str(unit).lower() not in ("window", "windows"):
                self._error("MS107", f"expected `windows` after `for {count}`, not `{unit}`",
                            unit, f"write `for {count} windows`")
        return ir.AlertRule(span=self.span_of(meta), kind=kind, threshold=threshold,
                            consecutive=consecutive)

    def alert_fragment(self, meta: Meta, children: list[ir.AlertRule]) -> ir.AlertRule:
        return children[0]

    def relative_alert(self, meta: Meta, children: list[Any]) -> tuple[str, ir.Amount]:
        return f"{children[0]}_baseline", children[1]

    def threshold_alert(self, meta: Meta, children: list[Any]) -> tuple[str, ir.Amount]:
        return str(children[0]), children[1]

    def zscore_alert(self, meta: Meta, children: list[Any]) -> tuple[str, ir.Amount]:
        return f"zscore_{children[0]}", children[1]

    # ------------------------------------------------------------ fragments

    def expr_fragment(self, meta: Meta, children: list[Any]) -> Any:
        return children[0]

    def duration_fragment(self, meta: Meta, children: list[ir.Duration]) -> ir.Duration:
        return children[0]

    def amount_fragment(self, meta: Meta, children: list[ir.Amount]) -> ir.Amount:
        return children[0]

    def mde_fragment(self, meta: Meta, children: list[Any]) -> ir.Mde:
        value: ir.Mde = self.mde(meta, children).value
        return value

    def window_fragment(self, meta: Meta, children: list[Token]) -> ir.AnalysisWindow:
        value: ir.AnalysisWindow = self.window(meta, children).value
        return value

    def traffic_fragment(self, meta: Meta, children: list[Token]) -> ir.Traffic:
        value: ir.Traffic = self.traffic(meta, children).value
        return value

    def condition_fragment(self, meta: Meta, children: list[Any]) -> tuple[ir.Ref, str, ir.Amount]:
        return self._ref(children[0]), str(children[1]), children[2]

    def composition_fragment(self, meta: Meta, children: list[Any]) -> tuple[str, list[Any]]:
        result: tuple[str, list[Any]] = children[0]
        return result

    def unit_fragment(self, meta: Meta, children: list[str]) -> str:
        return children[0]


def _string(token: Token) -> str:
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


def _flat(groups: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    return tuple(item for group in groups for item in group)


def _fraction(amount: ir.Amount) -> float:
    return amount.fraction


def _fraction_hint(value: float) -> str:
    """How to write a quantile given as a percentage.

    >>> _fraction_hint(0.95)
    'write 0.95, or use p95(…)'
    >>> _fraction_hint(0.999), _fraction_hint(1.5)
    ('write 0.999', 'write a fraction between 0 and 1, e.g. 0.95')
    """
    if not 0 < value < 1:
        return "write a fraction between 0 and 1, e.g. 0.95"
    whole = round(value * 100)
    short = f", or use p{whole}(…)" if abs(whole - value * 100) < 1e-9 else ""
    return f"write {value:.6g}{short}"


def _agg_func(name: str) -> tuple[str, float | None]:
    """Map an aggregate's spelling to the IR function and quantile.

    >>> _agg_func("p95"), _agg_func("median"), _agg_func("mean")
    (('quantile', 0.95), ('quantile', 0.5), ('avg', None))
    """
    if name.startswith("p") and name[1:].isdigit():
        return "quantile", float(name[1:]) / 100.0
    if name == "median":
        return "quantile", 0.5
    if name == "mean":
        return "avg", None
    return name, None
