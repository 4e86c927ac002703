"""sqlglot building blocks for one backend: the only place capability flags become SQL.

Every identifier from a spec is quoted; a simple name is first folded to the case the
warehouse folds unquoted names to (upper in Snowflake, lower in PostgreSQL), so `"THUMBS"`
still finds a column created as `thumbs`. Filters arrive as trees rebuilt by
`metricspec.filters` from its closed grammar; their columns are re-quoted and qualified here.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from metricspec import ir
from metricspec.backends import Backend, fill
from metricspec.filters import CheckedFilter
from metricspec.plan.lower import InternalError
from metricspec.plan.metric_query import Grain
from metricspec.source_queries import read_source_query

_SIMPLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
Z_975 = 1.959963984540054


def paren(value: exp.Expr) -> exp.Expr:
    """Parenthesise an operator expression: sqlglot renders trees as built, so
    `a - b` inside a division must be wrapped by hand."""
    if isinstance(value, (exp.Binary, exp.Neg, exp.Not)) and not isinstance(value, exp.Paren):
        return exp.Paren(this=value)
    return value


# sqlglot renamed the WITH argument of a SELECT from `with` to `with_`.
WITH_KEY = "with_" if "with_" in exp.Select.arg_types else "with"


def aliased(node: exp.Expr, alias: exp.Identifier | str) -> exp.Expr:
    """`node AS alias`, as `node.as_(alias, copy=False)` builds it but without the copy of the
    identifier sqlglot makes (metricspec's identifiers are made fresh for each place)."""
    name = alias if isinstance(alias, exp.Identifier) else exp.to_identifier(alias)
    if "alias" in node.arg_types and not isinstance(node, exp.Window):
        node.set("alias", name)
        return node
    return exp.Alias(this=node, alias=name)


def with_ctes(select: exp.Select, ctes: list[tuple[str, exp.Expr]]) -> exp.Select:
    """Attach common table expressions, in order, without copying the trees.

    Names built from spec names (`<source>_agg`) cannot meet another part's name in a
    checked project (`check.compilable`, MS417); this guard makes a clash an internal error,
    never a query with two CTEs of one name (compared as warehouses fold names).
    """
    seen: set[str] = set()
    for name, _ in ctes:
        if name.casefold() in seen:
            raise InternalError(f"two parts of the query would both be named `{name}`", "MS417")
        seen.add(name.casefold())
    select.set(
        WITH_KEY,
        exp.With(
            expressions=[
                exp.CTE(this=cte, alias=exp.TableAlias(this=exp.to_identifier(name)))
                for name, cte in ctes
            ]
        ),
    )
    return select


_TYPES: dict[str, exp.DataType] = {}


def data_type(name: str) -> exp.DataType:
    """A sqlglot data type by name, parsed once and copied after (parsing is slow)."""
    if name not in _TYPES:
        _TYPES[name] = exp.DataType.build(name, dialect=None)
    return _TYPES[name].copy()


def cast(value: exp.Expr, type_name: str) -> exp.Cast:
    return exp.Cast(this=value, to=data_type(type_name))


class SqlBuilder:
    """Builds dialect-correct expressions for one backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._caps = backend.capabilities
        self.dialect = backend.sqlglot_dialect
        ordering = Dialect.get_or_raise(self.dialect).NULL_ORDERING
        self._nulls_first = ordering == "nulls_are_small"

    # ------------------------------------------------------------ names

    def ident(self, name: str) -> exp.Identifier:
        if _SIMPLE.match(name):
            if self._caps.identifier_case == "upper":
                name = name.upper()
            elif self._caps.identifier_case == "lower":
                name = name.lower()
        return exp.Identifier(this=name, quoted=True)

    def col(self, name: str, table: str | None = None) -> exp.Column:
        """A column, qualified by a table alias or CTE name (quoted unless a plain name)."""
        return exp.Column(this=self.ident(name), table=exp.to_identifier(table) if table else None)

    @staticmethod
    def cte(name: str) -> exp.Table:
        """A reference to a CTE by name; the name may come from a spec, so it is an
        identifier (quoted unless a plain name), never parsed as SQL."""
        return exp.Table(this=exp.to_identifier(name))

    def alias(self, name: str) -> exp.Identifier:
        """An output column name chosen by metricspec (metric names are simple names)."""
        return self.ident(name)

    def ref(self, name: str, table: str | None = None) -> exp.Column:
        """A column metricspec itself named in an earlier CTE."""
        return self.col(name, table)

    def source(self, source: ir.Source, alias: str) -> exp.Expr:
        """The FROM item for a source: its table, or its query as a subquery."""
        if source.table is not None:
            if not 1 <= len(source.table) <= 3 or not all(source.table):
                raise InternalError(
                    f"the table of source `{source.name}` is `{'.'.join(source.table)}`, not "
                    "[catalog.][schema.]table", "MS416")
            parts = [self.ident(p) for p in source.table]
            table = exp.Table(
                this=parts[-1],
                db=parts[-2] if len(parts) > 1 else None,
                catalog=parts[-3] if len(parts) > 2 else None,
            )
            return table.as_(alias, quoted=False, copy=False)
        assert source.query is not None
        return exp.Subquery(
            this=self._source_query(source), alias=exp.TableAlias(this=exp.to_identifier(alias))
        )

    def _source_query(self, source: ir.Source) -> exp.Query:
        """A source's query, without its comments: parsed and judged once by
        `source_queries` (which `check` reports as MS415/MS702)."""
        assert source.query is not None
        parsed, problem = read_source_query(source.query, self.dialect)
        if parsed is None:
            raise InternalError(f"the query of source `{source.name}` {problem} "
                                f"({self.backend.title})", "MS415/MS702")
        query = parsed.copy()
        for node in query.walk():
            node.comments = None  # nothing the spec wrote travels into the SQL as text
        return query

    def asc(self, value: exp.Expr) -> exp.Ordered:
        """Ascending order on a key that is never NULL, written without a NULLS clause
        (which some warehouses reject inside window functions)."""
        return exp.Ordered(this=value, nulls_first=self._nulls_first)

    # ------------------------------------------------------------ literals and time

    @staticmethod
    def num(value: float) -> exp.Expr:
        text = (
            str(int(value))
            if float(value).is_integer() and abs(value) < 1e15
            else repr(float(value))
        )
        literal = exp.Literal.number(text.lstrip("-"))
        return exp.Neg(this=literal) if value < 0 else literal

    def exact_fraction(self, value: float) -> exp.Expr:
        """A fraction the warehouse must compute with exactly, not in binary floating point
        (a percentile's rank position `1 + (n - 1) * 0.95`): a decimal literal, cast to
        DECIMAL where the warehouse reads `0.95` as a float."""
        literal = self.num(value)
        return literal if self._caps.decimal_literals == "exact" else cast(literal, "DECIMAL")

    @staticmethod
    def text(value: str) -> exp.Literal:
        return exp.Literal.string(value)

    def ts(self, value: dt.datetime) -> exp.Expr:
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return cast(exp.Literal.string(text), self._caps.timestamp_type)

    def ts_add(self, value: exp.Expr, seconds: int) -> exp.Expr:
        if seconds >= 0:
            return exp.TimestampAdd(
                this=value, expression=exp.Literal.number(seconds), unit=exp.var("SECOND")
            )
        amount = exp.Literal.number(-seconds)
        node = exp.TimestampSub(this=value, expression=amount, unit=exp.var("SECOND"))
        return self._spelled("timestamp_sub", node, x=value, seconds=amount)

    def add_months(self, value: exp.Expr, months: int) -> exp.Expr:
        """`value` moved by whole calendar months (the day cut to the month's last)."""
        amount = exp.Literal.number(months) if months >= 0 else exp.Neg(
            this=exp.Literal.number(-months))
        node = exp.TimestampAdd(this=value, expression=amount, unit=exp.var("MONTH"))
        return self._spelled("add_months", node, x=value, months=amount)

    def bucket(self, ts: exp.Expr, grain: Grain) -> exp.Expr:
        """The start of the `grain` period that `ts` falls in."""
        if grain.unit == "none":  # one period: the whole range
            return self.ts(dt.datetime(1970, 1, 1))
        if grain.unit == "week" and grain.week_start:  # the ISO week, shifted
            shift = (7 - grain.week_start) % 7 * 86400
            iso = self.bucket(self.ts_add(ts, shift), Grain("week"))
            return self.ts_add(iso, -shift)
        if grain.unit in ("fiscal_quarter", "fiscal_year"):
            plain = Grain("quarter" if grain.unit == "fiscal_quarter" else "year")
            shift = (grain.fiscal_start - 1) % (plain.months or 1)
            if not shift:
                return self.bucket(ts, plain)
            return self.add_months(self.bucket(self.add_months(ts, -shift), plain), shift)
        if grain.unit in ("day", "month", "quarter", "year") or (
            grain.unit in ("minute", "hour") and grain.count == 1
        ):
            return exp.TimestampTrunc(this=ts, unit=exp.var(grain.unit.upper()))
        if grain.unit == "week":
            return exp.TimestampTrunc(this=ts, unit=exp.var(self._caps.week_unit))
        larger = "HOUR" if grain.unit == "minute" else "DAY"
        step = exp.Cast(
            this=exp.Mul(
                this=exp.Floor(
                    this=exp.Div(
                        this=exp.Extract(this=exp.var(grain.unit.upper()), expression=ts.copy()),
                        expression=exp.Literal.number(grain.count),
                    )
                ),
                expression=exp.Literal.number(grain.count),
            ),
            to=data_type("BIGINT"),
        )
        return exp.TimestampAdd(
            this=exp.TimestampTrunc(this=ts, unit=exp.var(larger)),
            expression=step,
            unit=exp.var(grain.unit.upper()),
        )

    # ------------------------------------------------------------ filters

    def filter(self, checked: CheckedFilter | None, table: str | None) -> exp.Expr | None:
        """A plan's checked filter with its columns quoted and qualified by `table`."""
        if checked is None:
            return None
        tree = checked.tree.copy()  # rebuilt by metricspec from the closed filter grammar
        if isinstance(tree, exp.Column):  # `where escalated`: the root itself is replaced
            return exp.Paren(this=self.col(tree.name, table))
        for column in list(tree.find_all(exp.Column)):
            column.replace(self.col(column.name, table))
        return exp.Paren(this=tree)

    # ------------------------------------------------------------ aggregates

    def agg(self, func: str, value: exp.Expr | None, condition: exp.Expr | None,
            approximate: bool = False) -> exp.Expr:
        """`func(value)` over the rows where `condition` holds (count: rows, or non-null value),
        spelled `FILTER (WHERE …)` or `CASE WHEN … END` as the backend's `[aggregates]` says;
        an `approximate` distinct count as the backend spells it."""
        if approximate:
            return self.approx_distinct(value, condition)
        distinct = func == "count_distinct"
        if func in ("count", "count_distinct") and value is None:
            if condition is None:
                return exp.Count(this=exp.Star())
            if self._filtered_by_clause("count"):
                return exp.Filter(
                    this=exp.Count(this=exp.Star()), expression=exp.Where(this=condition)
                )
            return exp.Count(this=self.when(condition, exp.Literal.number(1)))
        assert value is not None
        if condition is not None and self._filtered_by_clause(func):
            inner = exp.Distinct(expressions=[value]) if distinct else value
            return exp.Filter(
                this=self._agg_node(func, inner), expression=exp.Where(this=condition)
            )
        if condition is not None:
            value = self.when(condition, value)
        return self._agg_node(func, exp.Distinct(expressions=[value]) if distinct else value)

    def approx_distinct(self, value: exp.Expr | None, condition: exp.Expr | None) -> exp.Expr:
        """A HyperLogLog distinct count (`[spellings] approx_count_distinct`); a filter as
        CASE (its NULLs are not counted)."""
        template = self.backend.spelling("approx_count_distinct")
        if template is None or value is None:
            raise InternalError(f"{self.backend.title} has no approximate distinct count of "
                                "that value", "MS455")
        return fill(template, {"x": self.when(condition, value) if condition is not None
                               else value})

    def _filtered_by_clause(self, func: str) -> bool:
        """Whether the backend spells a filtered `func` with `FILTER (WHERE …)` (else CASE)."""
        chosen = self.backend.aggregates
        spelling = {"count": chosen.filtered_count, "count_distinct": chosen.filtered_distinct,
                    "sum": chosen.filtered_sum, "min": chosen.filtered_sum,
                    "max": chosen.filtered_sum}[func]
        return spelling == "filter"

    @staticmethod
    def _agg_node(func: str, value: exp.Expr) -> exp.Expr:
        node: type[exp.Expr] = {
            "count": exp.Count,
            "count_distinct": exp.Count,
            "sum": exp.Sum,
            "min": exp.Min,
            "max": exp.Max,
        }[func]
        return node(this=value)

    @staticmethod
    def when(condition: exp.Expr, value: exp.Expr, otherwise: exp.Expr | None = None) -> exp.Expr:
        case = exp.Case(ifs=[exp.If(this=condition, true=value)])
        if otherwise is not None:
            case.set("default", otherwise)
        return case

    def percentile(self, value: exp.Expr, q: float, condition: exp.Expr | None) -> exp.Expr:
        """An aggregate percentile: sqlglot's exact or approximate node, or the backend's
        own spelling of it (`[spellings]` in its file); under a filter, FILTER or CASE as
        `[aggregates] filtered_percentile` says."""
        if condition is not None and self.backend.aggregates.filtered_percentile == "filter":
            return exp.Filter(this=self.percentile(value, q, None),
                              expression=exp.Where(this=condition))
        if condition is not None:
            value = self.when(condition, value)
        fraction = exp.Literal.number(repr(q))
        if self._caps.percentile == "exact":
            return self._spelled("percentile", exp.PercentileCont(this=value, expression=fraction),
                                 x=value, q=fraction)
        if self._caps.percentile == "approximate":
            return self._spelled("approx_percentile",
                                 exp.ApproxQuantile(this=value, quantile=fraction), x=value,
                                 q=fraction, q_permille=exp.Literal.number(round(q * 1000)))
        raise InternalError(f"{self.backend.title} has no aggregate percentile (`check "
                            "--dialect` reports the metric as MS703)", "MS703")

    def _spelled(self, construct: str, node: exp.Expr, **values: exp.Expr) -> exp.Expr:
        """`node`, unless the backend spells `construct` itself: then its template, with the
        placeholders replaced by `values` (nodes, never text)."""
        template = self.backend.spelling(construct)
        return node if template is None else fill(template, values)

    # ------------------------------------------------------------ arithmetic

    def div(self, numerator: exp.Expr, denominator: exp.Expr) -> exp.Expr:
        """Division that yields NULL, not an error, on a zero denominator, and never
        truncates integers: sqlglot's `Div(safe, untyped)` knows which warehouses need
        `NULLIF` and which need a cast; a backend may spell it itself."""
        numerator, denominator = paren(numerator), paren(denominator)
        node = exp.Div(this=numerator, expression=denominator, safe=True, typed=False)
        return self._spelled("safe_divide", node, x=numerator, y=denominator)

    @staticmethod
    def to_float(value: exp.Expr) -> exp.Expr:
        return cast(value, "DOUBLE")

    @staticmethod
    def typed_null(kind: str) -> exp.Expr:
        return cast(exp.Null(), kind)

    def null_timestamp(self) -> exp.Expr:
        """A NULL of the type event times have in this warehouse."""
        return self.typed_null(self._caps.timestamp_type)

    @property
    def timestamp_type(self) -> str:
        return self._caps.timestamp_type

    def group(self, select: exp.Select, keys: list[exp.Expr]) -> exp.Select:
        """`GROUP BY` the keys: `GROUP BY ALL` where the warehouse accepts it."""
        if self._caps.group_by_all:
            return select.group_by(exp.var("ALL"), copy=False)
        return select.group_by(*[k.copy() for k in keys], copy=False)

    # ------------------------------------------------------------ time spine

    def epoch_seconds(self, value: exp.Expr) -> exp.Expr:
        """Seconds from 1970-01-01 00:00 to a timestamp (of the warehouse's event type)."""
        return self._spelled("epoch_seconds", exp.TimeToUnix(this=value), x=value)

    def spine_numbers(self, last: exp.Expr) -> exp.Expr:
        """The backend's query of whole numbers 0..`last`, one row each, in a column `n`
        (`[spellings] spine_numbers`: a table function or array each warehouse spells
        its own way); it reads the CTE `spine_bounds`."""
        template = self.backend.spelling("spine_numbers")
        if template is None:
            raise InternalError(f"{self.backend.title} has no spelling of `spine_numbers` "
                                "(a backend file without one is refused when loaded)",
                                "MS703")
        return fill(template, {"x": last})

    # ------------------------------------------------------------ time zones

    def local_time(self, value: exp.Expr, zone: str) -> exp.Expr:
        """The wall-clock time in `zone` of the UTC event time `value` (`[spellings]
        local_time`); periods are cut on it (`emit/zones.py`)."""
        return self._zone_spelling("local_time", value, zone)

    def utc_time(self, value: exp.Expr, zone: str) -> exp.Expr:
        """The UTC event time of `value`, a wall-clock time in `zone` (`[spellings]
        utc_time`): a source's own `timezone`."""
        return self._zone_spelling("utc_time", value, zone)

    def _zone_spelling(self, construct: str, value: exp.Expr, zone: str) -> exp.Expr:
        template = self.backend.spelling(construct)
        if template is None:
            raise InternalError(f"{self.backend.title} has no spelling of `{construct}` "
                                "(`check --dialect` reports time zones it cannot convert as "
                                "MS443)", "MS443")
        return fill(template, {"x": value, "zone": exp.Literal.string(zone)})
