"""The closed grammar of filters: rebuild a parsed condition from metricspec's own nodes.

`Rebuilder.build` walks the tree sqlglot parsed and returns a new tree in which every node was
constructed here, from the node kinds listed below; text survives only as a string literal's
value or an identifier's name. What falls outside the grammar is a `FilterProblem` at its span
(`metricspec.filters` turns the text into the parsed tree and owns the public API).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.expressions.datatypes import DType as T
from sqlglot.tokenizer_core import Token as SqlToken

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
#: Longest column name (PostgreSQL truncates identifiers beyond 63 bytes; see MS207).
MAX_NAME = 63
MAX_PROBLEMS = 10

#: Types a filter may CAST to: each renders as a real type in every backend.
TYPES: frozenset[T] = frozenset({
    T.TINYINT, T.SMALLINT, T.INT, T.BIGINT, T.FLOAT, T.DOUBLE, T.DECIMAL, T.VARCHAR, T.TEXT,
    T.BOOLEAN, T.DATE, T.TIMESTAMP, T.TIMESTAMPTZ,
})
#: Date parts for EXTRACT that every backend spells the same way.
DATE_PARTS = ("YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND")
#: The functions a filter may call, as the hint lists them.
FUNCTIONS = ("lower", "upper", "coalesce", "length", "abs", "round", "trim", "substring",
             "least", "greatest", "nullif", "floor", "ceil", "concat", "extract", "cast",
             "try_cast")
HINT = ("filters may use columns, literals, comparisons, AND/OR/NOT, IN (list), BETWEEN, LIKE, "
        "IS NULL, CASE and the functions " + ", ".join(FUNCTIONS))


@dataclass(frozen=True)
class FilterProblem:
    """Why a filter is refused: a diagnostic code and the character range [start, end)."""

    code: str
    message: str
    start: int
    end: int
    hint: str | None = None


@dataclass(frozen=True)
class ColumnRef:
    """A column a filter reads, as written: name, qualifier and character range."""

    name: str
    table: str | None
    quoted: bool
    start: int
    end: int


@dataclass(frozen=True)
class Shape:
    """The arguments a node kind may carry: sub-trees, lists of sub-trees, boolean flags,
    and flags dropped in the rebuild (spelling variants such as `nvl` for COALESCE)."""

    children: tuple[str, ...] = ("this",)
    lists: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()


ROUND_DECIMALS = 9
_BINARY = Shape(("this", "expression"))
_UNARY = Shape()
SHAPES: dict[type[exp.Expr], Shape] = {
    **{kind: _BINARY for kind in (exp.And, exp.Or, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT,
                                  exp.LTE, exp.Add, exp.Sub, exp.Mul, exp.Nullif)},
    exp.Div: Shape(("this", "expression"), flags=("typed", "safe")),
    exp.Mod: Shape(("this", "expression"), flags=("safe",)),
    exp.DPipe: Shape(("this", "expression"), flags=("safe",)),
    **{kind: _UNARY for kind in (exp.Not, exp.Paren, exp.Neg, exp.Lower, exp.Upper, exp.Abs,
                                 exp.Floor, exp.Ceil, exp.Length, exp.Trim)},
    exp.Between: Shape(("this", "low", "high")),
    exp.Like: Shape(("this", "expression"), flags=("negate",)),
    exp.ILike: Shape(("this", "expression"), flags=("negate",)),
    exp.In: Shape(lists=("expressions",)),
    exp.Coalesce: Shape(lists=("expressions",), dropped=("is_nvl", "is_null")),
    exp.Round: Shape(("this", "decimals")),
    exp.Substring: Shape(("this", "start", "length")),
    exp.Least: Shape(lists=("expressions",), flags=("ignore_nulls",)),
    exp.Greatest: Shape(lists=("expressions",), flags=("ignore_nulls",)),
    exp.Concat: Shape((), lists=("expressions",), flags=("safe", "coalesce")),
    exp.Is: Shape(("this", "expression"), flags=("negate",)),
    exp.Case: Shape(("this", "default"), lists=("ifs",)),
    exp.Extract: Shape(("this", "expression")),
    exp.Cast: Shape(("this", "to")),
    exp.TryCast: Shape(("this", "to"), flags=("safe",), dropped=("requires_string",)),
}
_OPERATORS = {"nullsafeeq": "`<=>`", "nullsafeneq": "`IS DISTINCT FROM`",
              "dot": "`.`", "placeholder": "a placeholder", "parameter": "a parameter",
              "star": "`*`", "escape": "`ESCAPE`", "interval": "`INTERVAL`"}


def node_offsets(node: exp.Expr, sql: str) -> tuple[int, int]:
    """Best-effort character range [start, end) of a node, from the positions sqlglot keeps."""
    own = node.meta
    if own.get("start") is not None and not isinstance(node, exp.Column):
        return own["start"], own["end"] + 1
    positions = [n.meta for n in node.walk() if n.meta.get("start") is not None]
    if not positions:
        return 0, len(sql)
    return min(p["start"] for p in positions), max(p["end"] for p in positions) + 1


def _absent(value: object) -> bool:
    return value is None or value is False or value == []


class Rebuilder:
    """Rebuild one parsed filter; collects `problems` and the column `references`."""

    def __init__(self, sql: str, tokens: list[SqlToken]) -> None:
        self.sql = sql
        self.tokens = tokens
        self.problems: list[FilterProblem] = []
        self.references: list[ColumnRef] = []

    def build(self, node: exp.Expr) -> exp.Expr | None:
        """A new tree equal in meaning to `node`, or None (with problems) outside the grammar."""
        kind = type(node)
        if kind is exp.Column:
            return self._column(node)
        if kind is exp.Literal:
            return self._literal(node)
        if kind is exp.Boolean and isinstance(node.this, bool):
            return exp.Boolean(this=node.this)
        if kind is exp.Null and not node.args:
            return exp.Null()
        if kind is exp.Alias:
            return self.refuse(node.args.get("alias") or node, "a name after a value (an "
                               "alias) is not allowed in a filter", HINT)
        shape = SHAPES.get(kind)
        if shape is None:
            return self.refuse(node, f"{self._what(node)} is not allowed in a filter", HINT)
        if kind is exp.Is and type(node.expression) not in (exp.Null, exp.Boolean):
            return self.refuse(node.expression, "`IS` is followed by NULL, TRUE or FALSE in a "
                               "filter", "compare values with `=`")
        if kind is exp.Extract:
            return self._extract(node)
        if kind is exp.Case:
            return self._case(node)
        if kind is exp.Round and node.args.get("decimals") is not None:
            return self._round(node, shape)
        return self._generic(node, shape)

    def refuse(self, node: exp.Expr | SqlToken, message: str, hint: str | None = None,
               code: str = "MS403") -> exp.Expr | None:
        """Record a problem at `node` (a tree node or a token); return None, the tree of a
        refused node, so that `return self.refuse(...)` reads as the refusal it is."""
        if isinstance(node, SqlToken):
            start, end = node.start, node.end + 1
        else:
            start, end = node_offsets(node, self.sql)
            if isinstance(node, exp.Func) and node.meta.get("start") is None:
                start = self._name_before(node, start)
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(FilterProblem(code, message, start, end, hint))
        return None

    # ------------------------------------------------------------------ generic nodes

    def _generic(self, node: exp.Expr, shape: Shape) -> exp.Expr | None:
        args: dict[str, object] = {}
        ok = True
        for key, value in node.args.items():
            if _absent(value) or (key in shape.dropped and isinstance(value, bool)):
                continue
            if key in shape.children and isinstance(value, exp.Expr):
                built = self._type(value, node) if key == "to" else self.build(value)
                ok = ok and built is not None
                args[key] = built
            elif key in shape.lists and isinstance(value, list):
                items = [self.build(v) if isinstance(v, exp.Expr) else None for v in value]
                ok = ok and all(item is not None for item in items)
                args[key] = items
            elif key in shape.flags and isinstance(value, bool):
                args[key] = value
            else:
                return self.refuse(node, f"{self._what(node)} cannot take `{key}` in a filter",
                                   HINT)
        if type(node) is exp.In and not args.get("expressions"):
            return self.refuse(node, "IN needs a list of values in a filter", HINT)
        return type(node)(**args) if ok else None

    def _round(self, node: exp.Expr, shape: Shape) -> exp.Expr | None:
        """`round(x, n)`: n a whole number 0…9, and x rounded as a decimal — PostgreSQL has
        no `round(double precision, integer)`, and decimal rounding is the same everywhere
        (BigQuery's NUMERIC holds 9 decimal places, hence the bound)."""
        decimals = node.args["decimals"]
        if type(decimals) is not exp.Literal or decimals.is_string or not (
                decimals.this.isdigit() and int(decimals.this) <= ROUND_DECIMALS):
            return self.refuse(decimals, f"round to a whole number of places from 0 to "
                               f"{ROUND_DECIMALS} in a filter", "such as round(score, 2)")
        built = self._generic(node, shape)
        if built is None:
            return None
        built.set("this", exp.Cast(this=built.this, to=exp.DataType.build(
            f"DECIMAL(38, {ROUND_DECIMALS})")))
        return built

    def _case(self, node: exp.Expr) -> exp.Expr | None:
        whens = node.args.get("ifs") or []
        for when in whens:
            if type(when) is not exp.If or any(
                    not _absent(v) for k, v in when.args.items() if k not in ("this", "true")):
                self.refuse(when, "a CASE branch is `WHEN condition THEN value` in a filter")
                return None
        if not whens:
            return self.refuse(node, "a CASE needs a WHEN branch in a filter")
        parts = {k: self.build(v) for k, v in node.args.items()
                 if k in ("this", "default") and isinstance(v, exp.Expr)}
        branches = [(self.build(w.this), self.build(w.args["true"])) for w in whens]
        if any(v is None for v in parts.values()) or any(
                a is None or b is None for a, b in branches):
            return None
        return exp.Case(ifs=[exp.If(this=a, true=b) for a, b in branches], **parts)

    # ------------------------------------------------------------------ leaves

    def _column(self, node: exp.Expr) -> exp.Expr | None:
        """A column, qualified by at most two names: its source's (`orders.status`), or a
        join path to another table's dimension (`users.plan`, `user_id.account_id.tier`)."""
        extra = [k for k, v in node.args.items()
                 if k not in ("this", "table", "catalog", "db") and not _absent(v)]
        if node.args.get("catalog") is not None or extra:
            text = self.sql[slice(*node_offsets(node, self.sql))]
            return self.refuse(node, f"`{text}` is not a column: a filter may qualify a column "
                               "with its source's name or a join path of at most two names",
                               code="MS405")
        name = self._identifier(node.this)
        table, db = node.args.get("table"), node.args.get("db")
        qualifier = self._identifier(table) if table is not None else None
        path = self._identifier(db) if db is not None else None
        if name is None or (table is not None and qualifier is None) or (
                db is not None and path is None):
            return None
        start, end = node_offsets(node, self.sql)
        written = ".".join(q.this for q in (path, qualifier) if q is not None) or None
        self.references.append(ColumnRef(name.this, written, bool(name.args.get("quoted")),
                                         start, end))
        return exp.Column(this=name, table=qualifier, db=path)

    def _identifier(self, node: object) -> exp.Identifier | None:
        if type(node) is not exp.Identifier or not isinstance(node.this, str):
            if isinstance(node, exp.Expr):
                self.refuse(node, f"{self._what(node)} is not a column name", HINT)
            return None
        name, quoted = node.this, bool(node.args.get("quoted"))
        if len(name) > MAX_NAME or not IDENTIFIER.fullmatch(name):
            self.refuse(node, f"`{_short(name)}` is not a column name", "a column is named "
                        "by an identifier, such as `status`; text goes in single quotes",
                        code="MS405")
            return None
        return exp.Identifier(this=name, quoted=quoted)

    def _literal(self, node: exp.Expr) -> exp.Expr | None:
        value = node.this
        if not isinstance(value, str):
            return self.refuse(node, "this literal is not allowed in a filter")
        if node.is_string:
            if "\x00" in value:
                return self.refuse(node, "a NUL character is not allowed in a filter's text")
            return exp.Literal.string(value)
        if len(value) > 100 or not NUMBER.fullmatch(value):
            return self.refuse(node, f"`{_short(value)}` is not a number", "write numbers "
                               "in decimal, such as 42, 0.5 or 1e6")
        return exp.Literal.number(value)

    def _extract(self, node: exp.Expr) -> exp.Expr | None:
        unit, value = node.this, node.expression
        name = unit.name.upper() if type(unit) is exp.Var else None
        built = self.build(value) if isinstance(value, exp.Expr) else None
        if name not in DATE_PARTS:
            where = self._token_before("EXTRACT", value) or node
            return self.refuse(where, f"the date part `{_short(self._text(where, unit))}` is "
                               "not allowed in a filter",
                               "EXTRACT takes one of " + ", ".join(DATE_PARTS).lower())
        others = [k for k, v in node.args.items() if k not in ("this", "expression")
                  and not _absent(v)]
        if others or built is None:
            return None if built is None else self.refuse(node, "EXTRACT takes `part FROM "
                                                          "value` in a filter")
        return exp.Extract(this=exp.var(name), expression=built)

    def _type(self, node: exp.Expr, cast: exp.Expr) -> exp.Expr | None:
        """A CAST target: a type of `TYPES`; DECIMAL may have a precision and scale."""
        kind = node.this if type(node) is exp.DataType else None
        extra = [k for k, v in node.args.items()
                 if k not in ("this", "expressions", "nested") and not _absent(v)]
        if kind not in TYPES or extra:
            where = self._token_before("TYPE", cast.this) or cast
            name = node.args.get("kind") or (kind.value if isinstance(kind, T) else "")
            allowed = ", ".join(sorted(t.value for t in TYPES))
            return self.refuse(where, f"the type `{_short(self._text(where, name))}` is not "
                               "allowed in a filter", f"CAST takes one of {allowed}")
        params = node.expressions
        if not params:
            return exp.DataType.build(kind)
        digits = [p.this.this if type(p) is exp.DataTypeParam and type(p.this) is exp.Literal
                  and not p.this.is_string else None for p in params]
        numbers = [int(d) for d in digits if isinstance(d, str) and d.isdigit() and len(d) < 4]
        if (kind is not T.DECIMAL or len(numbers) != len(params) or len(numbers) > 2
                or not 1 <= numbers[0] <= 38 or (len(numbers) == 2 and numbers[1] > numbers[0])):
            return self.refuse(self._token_before("TYPE", cast.this) or cast,
                               "a type in a filter takes no parameters, except DECIMAL("
                               "precision[, scale]) with precision 1 to 38 and scale 0 to "
                               "precision")
        return exp.DataType(this=T.DECIMAL, expressions=[
            exp.DataTypeParam(this=exp.Literal.number(n)) for n in numbers])

    # ------------------------------------------------------------------ spans and names

    def _token_before(self, what: str, operand: object) -> SqlToken | None:
        """The token of an EXTRACT's date part or a CAST's type, for error spans.

        A date part follows `EXTRACT (` and precedes its operand; a type follows `AS` or
        `::` after the operand. Without positions, the first candidate is used.
        """
        candidates: list[SqlToken] = []
        for i, token in enumerate(self.tokens):
            before = [t.token_type.name for t in self.tokens[max(0, i - 2):i]]
            extract = before == ["VAR", "L_PAREN"] and (
                self.tokens[i - 2].text.upper() == "EXTRACT")
            cast = before[-1:] in (["ALIAS"], ["DCOLON"])
            if (what == "EXTRACT" and extract) or (what == "TYPE" and cast):
                candidates.append(token)
        anchor = node_offsets(operand, self.sql) if isinstance(operand, exp.Expr) else None
        if not candidates:
            return None
        if anchor is None or anchor == (0, len(self.sql)):
            return candidates[0]
        if what == "EXTRACT":
            earlier = [t for t in candidates if t.start < anchor[0]]
            return earlier[-1] if earlier else candidates[0]
        later = [t for t in candidates if t.start >= anchor[1]]
        return later[0] if later else candidates[-1]

    def _name_before(self, node: exp.Func, start: int) -> int:
        """Where a call without positions starts: its name, a few tokens before its
        first argument (`trim(BOTH 'x' FROM y)`, `ANY(ARRAY[…])`)."""
        names = {node.sql_name().upper(), node.key.upper(), node.name.upper()}
        before = [t for t in self.tokens if t.start < start][-4:]
        for token in reversed(before):
            if token.text.upper() in names:
                return int(token.start)
        return start

    def _text(self, where: exp.Expr | SqlToken, fallback: object) -> str:
        if isinstance(where, SqlToken):
            return self.sql[where.start:where.end + 1]
        return str(fallback)

    def _what(self, node: exp.Expr) -> str:
        """How to name a node in a message: a function by the user's own spelling."""
        if isinstance(node, exp.Func):
            start, end = node.meta.get("start"), node.meta.get("end")
            written = self.sql[start:end + 1] if start is not None and end is not None else ""
            if not IDENTIFIER.fullmatch(written):
                written = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            return f"the function `{written.lower()}`"
        return _OPERATORS.get(node.key, f"`{node.key}`")


def _short(text: str, limit: int = 40) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
