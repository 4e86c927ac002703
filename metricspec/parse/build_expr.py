"""Metric expressions: numbers, references, arithmetic, aggregations with their filters, and the
special forms (weighted composites, conversions, rolling and cumulative windows)."""

from __future__ import annotations

from typing import Any

from lark import Token
from lark.tree import Meta

from metricspec import ir
from metricspec.parse.build_base import MAX_DURATION_SECONDS, TIME_UNITS, BuilderBase


class ExprRules(BuilderBase):
    """Metric expressions, from numbers to the special forms."""

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
        flt = next((c for c in children[2:] if isinstance(c, ir.Filter)), None)
        option = next((c for c in children[2:] if not isinstance(c, ir.Filter)), None)
        func, quantile = _agg_func(str(func_token))
        if quantile is not None:
            quantile = self._quantile(quantile, str(func_token), func_token)
        return ir.Aggregate(span=self.span_of(meta), func=func,
                            source=source, column=column, quantile=quantile, filter=flt,
                            approximate=option is True,
                            semi=option if isinstance(option, ir.SemiAdditive) else None)

    def approximate_option(self, meta: Meta, children: list[Token]) -> bool:
        return True

    def semi_option(self, meta: Meta, children: list[Token]) -> ir.SemiAdditive:
        return ir.SemiAdditive(span=self.span_of(meta), choice=str(children[0]),
                               per=tuple(self._ref(t) for t in children[1:]))

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

    def offset(self, meta: Meta, children: list[Any]) -> ir.Offset:
        return self._offset(meta, children, "offset")

    def growth(self, meta: Meta, children: list[Any]) -> ir.Offset:
        return self._offset(meta, children, "growth")

    def _offset(self, meta: Meta, children: list[Any], mode: str) -> ir.Offset:
        amount, unit = children[1]
        return ir.Offset(span=self.span_of(meta), mode=mode, expr=children[0], amount=amount,
                         unit=unit)

    def offset_baseline(self, meta: Meta, children: list[Any]) -> ir.PeriodOffset:
        amount, unit = children[0]
        return ir.PeriodOffset(span=self.span_of(meta), amount=amount, unit=unit)

    def same_period_baseline(self, meta: Meta, children: list[Token]) -> ir.PeriodOffset:
        unit = TIME_UNITS.get(str(children[0]).lower())
        if unit is None:
            self._error("MS453", f"unknown period `{children[0]}`", children[0],
                        "use e.g. `same period last week` (hour, day, week, month, quarter, "
                        "year)")
            unit = "week"
        return ir.PeriodOffset(span=self.span_of(meta), amount=1, unit=unit)

    def baseline_fragment(self, meta: Meta, children: list[Any]) -> Any:
        return children[-1]

    def offset_length(self, meta: Meta, children: list[Token]) -> tuple[int, str]:
        """`1 week`, `3 months`: MS453 for an unknown unit or a length that is not a
        positive whole number (or longer than a century)."""
        number, unit = children
        value = self._number(number)
        name = TIME_UNITS.get(str(unit).lower())
        if name is None:
            self._error("MS453", f"unknown offset unit `{unit}`", unit,
                        "use minutes, hours, days, weeks, months, quarters or years")
            name = "day"
        if value != int(value) or value <= 0:
            self._error("MS453", f"an offset needs a positive whole number, not `{number}`",
                        number, "e.g. `offset(m, 1 week)`")
        elif value * ir.SECONDS[name] > MAX_DURATION_SECONDS:
            self._error("MS453", f"an offset of `{number} {unit}` is longer than a century",
                        number)
            value = 1
        return max(1, int(value)), name


    def to_date(self, meta: Meta, children: list[Any]) -> ir.Window:
        """`to_date(m, month)`: cumulative, restarting at each calendar period (one unit)."""
        word = children[1]
        unit = TO_DATE_UNITS.get(str(word).lower())
        if unit is None:
            self._error("MS447", f"`{word}` is not a period to accumulate to", word,
                        "use day, week, month, quarter, year, fiscal_quarter or fiscal_year")
            unit = "month"
        length = ir.Duration(span=self.span_of(word), value=1, unit=unit)
        return ir.Window(span=self.span_of(meta), mode="cumulative", expr=children[0],
                         length=length)


    def to_date_short(self, meta: Meta, children: list[Any]) -> ir.Window:
        """`mtd(m)`, `qtd(m)`, `ytd(m)`, `fqtd(m)`, `fytd(m)`: `to_date(m, month)` and so on."""
        word = children[0]
        length = ir.Duration(span=self.span_of(word), value=1,
                             unit=TO_DATE_SHORT[str(word).lower()])
        return ir.Window(span=self.span_of(meta), mode="cumulative", expr=children[1],
                         length=length)


#: The short forms of `to_date` and the period each accumulates to.
TO_DATE_SHORT = {"mtd": "month", "qtd": "quarter", "ytd": "year", "fqtd": "fiscal_quarter",
                 "fytd": "fiscal_year"}


#: The periods `to_date(m, …)` accumulates to (plan.calendar cuts them).
TO_DATE_UNITS = {u: u for u in ("day", "week", "month", "quarter", "year", "fiscal_quarter",
                                "fiscal_year")}


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
