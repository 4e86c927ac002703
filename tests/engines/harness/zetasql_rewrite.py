"""Make analyzed BigQuery SQL executable by ZetaSQL's reference evaluator.

The evaluator behind the ``zetasql`` package has two gaps that do not affect *validity*
(the original SQL has already been analyzed as written) but stop *execution*:

1. table contents can only be attached to tables of the root catalog, so every table path
   (``support.users``, ```support`.users``) is replaced by the single identifier
   ```support.users``` that names the same table there;
2. approximate aggregates are not implemented, so ``APPROX_COUNT_DISTINCT(x)`` runs as
   ``COUNT(DISTINCT x)`` and ``APPROX_QUANTILES(x, n)[OFFSET(k)]`` runs as the exact
   nearest-rank quantile ``ARRAY_AGG(x IGNORE NULLS ORDER BY x)[SAFE_OFFSET(round(k/n*(c-1)))]``
   where ``c = COUNT(x)``; an approximate quantile is allowed to be any such value.

Edits are found in the *resolved* AST (so CTE names and column references are never touched)
and applied by byte offset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zetasql.api import ResolvedNodeVisitor

from metricspec.run.connections import WarehouseError

_ACCESS = {
    "ZetaSQL:$array_at_offset": 0,
    "ZetaSQL:$safe_array_at_offset": 0,
    "ZetaSQL:$array_at_ordinal": 1,
    "ZetaSQL:$safe_array_at_ordinal": 1,
}


@dataclass(frozen=True)
class Edit:
    """Replace bytes ``start:end`` of the SQL text with ``text``."""

    start: int
    end: int
    text: str


class _Collector(ResolvedNodeVisitor):  # type: ignore[misc]
    def __init__(self, sql: bytes, tables: Mapping[int, str]) -> None:
        super().__init__()
        self.sql = sql
        self.tables = tables
        self.edits: list[Edit] = []
        self.quantiles: dict[tuple[int, int], Any] = {}
        self.accesses: list[Any] = []
        self.scanned: set[str] = set()

    def text(self, node: Any) -> str:
        where = node.parse_location_range
        return self.sql[where.start : where.end].decode()

    def visit_ResolvedTableScan(self, node: Any) -> None:
        where = node.parse_location_range
        name = self.tables[node.table.serialization_id]
        self.scanned.add(name)
        self.edits.append(Edit(where.start, where.end, f"`{name}`"))
        self.descend(node)

    def visit_ResolvedFunctionCallBase(self, node: Any) -> None:
        name = node.function.name if node.function else ""
        where = node.parse_location_range
        if name == "ZetaSQL:approx_quantiles":
            self.quantiles[(where.start, where.end)] = node
        elif name == "ZetaSQL:approx_count_distinct":
            arg = self.text(node.argument_list[0])
            self.edits.append(Edit(where.start, where.end, f"COUNT(DISTINCT {arg})"))
        elif name in _ACCESS:
            self.accesses.append(node)
        self.descend(node)


def _literal_int(node: Any) -> int | None:
    value = getattr(node, "value", None)
    inner = getattr(value, "value", None)
    return getattr(inner, "int64_value", None)


def _exact_quantile(collector: _Collector, call: Any, access: Any, base: int) -> str:
    expr = collector.text(call.argument_list[0])
    n = _literal_int(call.argument_list[1])
    k = _literal_int(access.argument_list[1])
    if n is None or k is None:
        raise WarehouseError("zetasql executor: APPROX_QUANTILES needs literal n and offset")
    distinct = "DISTINCT " if call.distinct else ""
    rank = f"CAST(ROUND({k - base} * (COUNT({distinct}({expr})) - 1) / {n}) AS INT64)"
    return f"ARRAY_AGG({distinct}({expr}) IGNORE NULLS ORDER BY ({expr}))[SAFE_OFFSET({rank})]"


def executable_sql(sql: str, resolved: Any, tables: Mapping[int, str]) -> str:
    """Return ``sql`` rewritten for the evaluator (see :func:`rewrite`)."""
    return rewrite(sql, resolved, tables)[0]


def rewrite(sql: str, resolved: Any, tables: Mapping[int, str]) -> tuple[str, frozenset[str]]:
    """Return ``sql`` rewritten for the evaluator (see the module docstring), and the names
    of the tables it reads.

    Args:
        sql: The SQL text that ``resolved`` was analyzed from.
        resolved: The resolved statement, analyzed with full parse locations.
        tables: Table serialization id -> ``dataset.table`` name.

    Raises:
        WarehouseError: If ``APPROX_QUANTILES`` is used other than as ``[OFFSET(k)]``.
    """
    raw = sql.encode()
    collector = _Collector(raw, tables)
    collector.visit(resolved)
    edits = list(collector.edits)
    used = set()
    for access in collector.accesses:
        target = access.argument_list[0].parse_location_range
        call = collector.quantiles.get((target.start, target.end)) if target else None
        if call is None:
            continue
        used.add((target.start, target.end))
        where = access.parse_location_range
        base = _ACCESS[access.function.name]
        edits.append(Edit(where.start, where.end, _exact_quantile(collector, call, access, base)))
    if set(collector.quantiles) - used:
        raise WarehouseError(
            "zetasql executor: APPROX_QUANTILES is only executable as "
            "APPROX_QUANTILES(x, n)[OFFSET(k)] (the SQL itself is valid BigQuery)"
        )
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        raw = raw[: edit.start] + edit.text.encode() + raw[edit.end :]
    return raw.decode(), frozenset(collector.scanned)
