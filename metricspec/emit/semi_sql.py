"""Semi-additive (balance-type) measures: each period's last (or first) snapshot rows.

A measure such as `sum(backlog.open_tickets, last per queue_id)` reads a snapshot table (one
row per queue and day, say). Within each period of the query (and its time range) it keeps,
for every value of the `per` entities, the rows at that entity's latest (`first`: earliest)
snapshot time, and aggregates those rows: per queue the last snapshot of the week, summed
over queues. Without `per`, the rows at the period's own latest snapshot time are kept (an
entity without a row at that moment contributes nothing). Ties (several rows of one entity
at its chosen time) are all kept. The measure's filter and the query's `--where` select
among the chosen rows, so a stale row never stands in for a filtered-out current one, and
grouping by a dimension splits the same rows the total adds up.

    <source>_<last|first>[_per_<entity>…]_agg
      SELECT period, dimensions, the measures over the chosen rows
      FROM (SELECT s.*, period, MAX(time) OVER (PARTITION BY period, per…) AS chosen_at
            FROM <source> AS s WHERE <time range>) AS s
      WHERE time = chosen_at [AND --where] GROUP BY period, dimensions

A period without any snapshot row has no value (NULL, not 0): nothing was observed.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from metricspec.emit.join_sql import localized, relation
from metricspec.emit.sqlbuild import SqlBuilder, aliased
from metricspec.emit.zones import local_time
from metricspec.plan.lower import InternalError, Measure, Semi
from metricspec.plan.metric_query import MetricQueryPlan, Scan

PERIOD = "period"
#: The columns the inner select adds to the source's own (`__`: names metricspec builds).
PERIOD_AT, CHOSEN_AT = "semi__period", "semi__chosen_at"


def split_semi(scan: Scan) -> tuple[Scan, list[tuple[Semi, Scan]]]:
    """The scan's ordinary measures, and its semi-additive ones grouped by snapshot choice."""
    groups: dict[Semi, list[Measure]] = {}
    for measure in scan.measures:
        if measure.semi is not None:
            groups.setdefault(measure.semi, []).append(measure)
    plain = tuple(m for m in scan.measures if m.semi is None)
    return (Scan(scan.source, plain, scan.joins),
            [(semi, Scan(scan.source, tuple(own), scan.joins)) for semi, own in groups.items()])


def block_name(source: str, semi: Semi) -> str:
    """`backlog_last_agg`, `backlog_last_per_queue_id_agg`."""
    per = "".join(f"_per_{p}" for p in semi.per)
    return f"{source}_{semi.choice}{per}_agg"


def semi_scan(plan: MetricQueryPlan, semi: Semi, scan: Scan, sql: SqlBuilder,
              time_range: exp.Expr | None,
              measure_sql: Callable[[Measure, SqlBuilder], exp.Expr]) -> exp.Select:
    """One period × dimensions aggregate of the chosen snapshot rows (the module's shape);
    `measure_sql` spells each measure over the rows `s` (metric_sql's)."""
    source = scan.source
    if source.time is None:
        raise InternalError(f"source `{source.name}` has no time column", "MS605")
    time = sql.col(source.time.name, "s")
    period = sql.bucket(local_time(plan.timezone, source, time.copy(), sql), plan.grain)
    pick = exp.Max if semi.choice == "last" else exp.Min
    chosen = exp.Window(this=pick(this=time.copy()),
                        partition_by=[period.copy(), *[sql.col(p, "s") for p in semi.per]])
    inner = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("s")),
                       aliased(period, sql.alias(PERIOD_AT)), aliased(chosen, sql.alias(CHOSEN_AT)))
    inner = inner.from_(relation(source, scan.joins, sql, "s"), copy=False)
    if time_range is not None:
        inner = inner.where(time_range, copy=False)
    keys: list[exp.Expr] = [sql.ref(PERIOD_AT, "s"), *[sql.col(d, "s") for d in plan.dimensions]]
    select = exp.select(aliased(sql.ref(PERIOD_AT, "s"), sql.alias(PERIOD)))
    for dim in plan.dimensions:
        select = select.select(aliased(sql.col(dim, "s"), sql.alias(dim)), copy=False)
    for measure in localized(scan.joins, scan.measures):
        select = select.select(aliased(measure_sql(measure, sql), sql.alias(measure.name)),
                               copy=False)
    select = select.from_(exp.Subquery(this=inner, alias=exp.TableAlias(
        this=exp.to_identifier("s"))), copy=False)
    select = select.where(exp.EQ(this=time.copy(), expression=sql.ref(CHOSEN_AT, "s")),
                          copy=False)
    if plan.where is not None:  # the query's filter on dimensions, among the chosen rows
        select = select.where(sql.filter(plan.where, "s"), copy=False)
    return sql.group(select, keys)
