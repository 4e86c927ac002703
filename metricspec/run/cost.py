"""What a query read: rows and bytes per table, as the engine reports them, and scan budgets.

Every engine says something different, and some say nothing, so each figure carries how it
was obtained (`method`) and whether it was measured while the query ran or estimated before
(`measured`). A figure the engine does not give is ``None`` — shown as "not reported", never
as zero.

- DuckDB: its profiler, after the query (rows read from storage per table scan; bytes read
  from disk, which is 0 when the pages were already in memory). Before a query, for a budget:
  the row counts of the tables its plan scans.
- PostgreSQL: an estimate before the query, from `EXPLAIN (FORMAT JSON)` (the tables its plan
  scans) and the tables' sizes in `pg_class` (`reltuples`, `relpages` × block size).
- BigQuery: the job's statistics (`totalBytesProcessed`, `totalBytesBilled`); a dry run
  before the query gives the same figure, exactly, without running it.
- Snowflake: `EXPLAIN USING JSON` before the query (`bytesAssigned` per table scan) and the
  query history after it (`BYTES_SCANNED`).
- Spark: not reported.

The parsers below take the engines' own documents (JSON text or dicts), so they are tested on
recorded documents as well as on the live engines that run here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Budget", "ScanCost", "TableScan", "budget_problem", "parse_budget"]


@dataclass(frozen=True)
class TableScan:
    """One table a query read; ``None`` where the engine does not say."""

    table: str
    rows: int | None = None
    bytes: int | None = None


@dataclass(frozen=True)
class ScanCost:
    """What one query read (or would read), and how that is known."""

    scans: tuple[TableScan, ...]
    method: str
    measured: bool
    #: Engine totals that are not per table (BigQuery and Snowflake report bytes per query).
    total_bytes_reported: int | None = None
    bytes_billed: int | None = None

    @property
    def rows(self) -> int | None:
        values = [s.rows for s in self.scans]
        return sum(v for v in values if v is not None) if values and None not in values else None

    @property
    def bytes(self) -> int | None:
        if self.total_bytes_reported is not None:
            return self.total_bytes_reported
        values = [s.bytes for s in self.scans]
        return sum(v for v in values if v is not None) if values and None not in values else None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "measured": self.measured,
            "rows": self.rows,
            "bytes": self.bytes,
            "bytes_billed": self.bytes_billed,
            "tables": [{"table": s.table, "rows": s.rows, "bytes": s.bytes} for s in self.scans],
        }

    def summary(self) -> str:
        """One line for the terminal: totals first, then per table."""
        kind = "read" if self.measured else "estimated"
        parts = [f"{_rows(self.rows)}, {_bytes(self.bytes)}"]
        if self.bytes_billed is not None:
            parts.append(f"{_bytes(self.bytes_billed)} billed")
        tables = "; ".join(f"{s.table} {_rows(s.rows)}" for s in self.scans)
        return f"{kind} ({self.method}): {', '.join(parts)}" + (f" — {tables}" if tables else "")


def combine(costs: Iterable[ScanCost | None]) -> ScanCost | None:
    """Several queries' costs as one (a monitor runs two); ``None`` when none is known."""
    known = [c for c in costs if c is not None]
    if not known:
        return None
    by_table: dict[str, list[TableScan]] = {}
    for cost in known:
        for scan in cost.scans:
            by_table.setdefault(scan.table, []).append(scan)
    scans = tuple(TableScan(t, _sum(s.rows for s in group), _sum(s.bytes for s in group))
                  for t, group in sorted(by_table.items()))
    totals = [c.total_bytes_reported for c in known]
    billed = [c.bytes_billed for c in known]
    return ScanCost(scans, known[0].method, all(c.measured for c in known),
                    _sum(totals) if any(t is not None for t in totals) else None,
                    _sum(billed) if any(b is not None for b in billed) else None)


def _sum(values: Iterable[int | None]) -> int | None:
    listed = list(values)
    return None if not listed or None in listed else sum(v for v in listed if v is not None)


def _rows(n: int | None) -> str:
    return "rows not reported" if n is None else f"{n:,} row{'s' if n != 1 else ''}"


def _bytes(n: int | None) -> str:
    if n is None:
        return "bytes not reported"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


# ------------------------------------------------------------ budgets

_MULTIPLIERS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_BYTES = {"b": 1, "byte": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:(?P<bytes>[kmgt]i?b|b|bytes?)|"
                     r"(?P<mult>[kmgt])?\s*(?P<rows>rows?))\s*$", re.I)


@dataclass(frozen=True)
class Budget:
    """The most a run may read: a number of bytes or of rows."""

    limit: int
    unit: str  # "bytes" or "rows"
    text: str

    def describe(self) -> str:
        return self.text.strip()


def parse_budget(text: str) -> Budget:
    """Read ``10GB``, ``500 MB``, ``2GiB``, ``5M rows``, ``1000000 rows``.

    >>> parse_budget("10GB")
    Budget(limit=10000000000, unit='bytes', text='10GB')
    >>> parse_budget("5M rows").limit
    5000000

    Raises:
        ValueError: If the text is not a size or a row count.
    """
    match = _BUDGET.match(text)
    if not match:
        raise ValueError(f"cannot read the scan budget {text!r}: write a size such as "
                         "`10GB`, `500MB` or `2GiB`, or a row count such as `5M rows`")
    number = float(match.group(1))
    if match.group("bytes"):
        limit, unit = number * _BYTES[match.group("bytes").lower()], "bytes"
    else:
        limit, unit = number * _MULTIPLIERS[(match.group("mult") or "").lower()], "rows"
    return Budget(int(limit), unit, text)


def budget_problem(budget: Budget, estimate: ScanCost | None, engine: str) -> str | None:
    """Why a query may not run under ``budget`` (``None``: it may)."""
    if estimate is None:
        return (f"a scan budget ({budget.describe()}) is set, but {engine} gives no estimate "
                "of what a query reads before it runs, so the budget cannot be checked")
    figure = estimate.bytes if budget.unit == "bytes" else estimate.rows
    if figure is None:
        other = "rows" if budget.unit == "bytes" else "bytes"
        return (f"a scan budget in {budget.unit} ({budget.describe()}) is set, but {engine}'s "
                f"estimate gives {other} only ({estimate.summary()}); state the budget in "
                f"{other}")
    if figure > budget.limit:
        return (f"the query would read more than the scan budget {budget.describe()}: "
                f"{estimate.summary()}")
    return None


# ------------------------------------------------------------ engine documents


def _nodes(tree: Any) -> Iterator[Mapping[str, Any]]:
    """Every dict in a JSON tree, depth first."""
    if isinstance(tree, Mapping):
        yield tree
        for value in tree.values():
            yield from _nodes(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _nodes(value)


def _table_of(node: Mapping[str, Any]) -> str | None:
    extra = node.get("extra_info")
    if isinstance(extra, Mapping) and isinstance(extra.get("Table"), str):
        name = str(extra["Table"])
        # DuckDB qualifies with the catalog; the in-memory catalog's name says nothing
        return name.removeprefix("memory.")
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def duckdb_profile(text: str, *, on_disk: bool = True) -> ScanCost:
    """DuckDB's JSON profile of the last query (``get_profiling_information``) → rows read
    per scanned table (DuckDB 1.1+: ``operator_rows_scanned``; 2.0: ``rows_scanned``) and,
    for a database file (``on_disk``), the bytes read from it."""
    document = json.loads(text)
    rows: dict[str, int] = {}
    for node in _nodes(document.get("operator", document.get("children", []))):
        table = _table_of(node)
        if table is None:
            continue
        count = _int(node.get("rows_scanned", node.get("operator_rows_scanned",
                                                       node.get("operator_cardinality"))))
        rows[table] = rows.get(table, 0) + (count or 0)
    io = document.get("io") if isinstance(document.get("io"), Mapping) else None
    disk = _int(io.get("total_bytes_read")) if io and on_disk else None
    scans = tuple(TableScan(t, n) for t, n in sorted(rows.items()))
    return ScanCost(scans, "DuckDB profiler" + ("; bytes read from disk" if on_disk else ""),
                    measured=True, total_bytes_reported=disk)


def duckdb_plan_tables(text: str) -> list[str]:
    """The tables an ``EXPLAIN (FORMAT JSON)`` plan of DuckDB's scans."""
    return sorted({t for node in _nodes(json.loads(text)) if (t := _table_of(node))})


def postgres_plan_tables(plan: Any) -> list[tuple[str, str]]:
    """(schema, table) of every relation an ``EXPLAIN (FORMAT JSON)`` plan scans."""
    if isinstance(plan, str):
        plan = json.loads(plan)
    found = set()
    for node in _nodes(plan):
        if "Relation Name" in node:
            found.add((str(node.get("Schema", "public")), str(node["Relation Name"])))
    return sorted(found)


def bigquery_job(resource: Mapping[str, Any]) -> ScanCost:
    """A BigQuery job resource (the REST ``jobs`` JSON, ``QueryJob.to_api_repr()``): bytes
    processed and billed; the tables it referenced (BigQuery gives no per-table figure)."""
    statistics = resource.get("statistics") or {}
    query = statistics.get("query") or {}
    tables = query.get("referencedTables") or []
    names = sorted({".".join(str(t[k]) for k in ("projectId", "datasetId", "tableId") if k in t)
                    for t in tables})
    processed = _int(query.get("totalBytesProcessed", statistics.get("totalBytesProcessed")))
    billed = _int(query.get("totalBytesBilled"))
    dry = bool((resource.get("configuration") or {}).get("dryRun"))
    return ScanCost(tuple(TableScan(n) for n in names),
                    "BigQuery dry run" if dry else "BigQuery job statistics", measured=not dry,
                    total_bytes_reported=processed, bytes_billed=None if dry else billed)


def snowflake_explain(text: str) -> ScanCost:
    """Snowflake's ``EXPLAIN USING JSON``: bytes assigned per table scan (before running)."""
    document = json.loads(text)
    bytes_by_table: dict[str, int] = {}
    for node in _nodes(document.get("Operations", [])):
        if node.get("operation") == "TableScan":
            for table in node.get("objects") or []:
                bytes_by_table[str(table)] = (bytes_by_table.get(str(table), 0)
                                              + (_int(node.get("bytesAssigned")) or 0))
    total = _int((document.get("GlobalStats") or {}).get("bytesAssigned"))
    scans = tuple(TableScan(t, None, b) for t, b in sorted(bytes_by_table.items()))
    return ScanCost(scans, "Snowflake EXPLAIN", measured=False, total_bytes_reported=total)


def snowflake_history(row: Mapping[str, Any]) -> ScanCost:
    """One row of Snowflake's ``QUERY_HISTORY_BY_SESSION`` for the query just run."""
    lower = {str(k).lower(): v for k, v in row.items()}
    return ScanCost((), "Snowflake query history", measured=True,
                    total_bytes_reported=_int(lower.get("bytes_scanned")))
