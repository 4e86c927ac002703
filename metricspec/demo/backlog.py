"""The demo warehouse's snapshot table: the human-agent ticket backlog, one row per queue
and day (issue 12: semi-additive measures).

``support.backlog_snapshots`` is built in DuckDB from ``support.conversations`` once they
are written. An escalated conversation becomes a ticket in its queue (the conversation's
channel and locale) and stays open for 1 to 5 days (a hash of its number). At 00:00 of each
day a snapshot records, per queue, the tickets open at that moment; the snapshot job misses
one queue-day in eleven (a fixed pattern over queue and day numbers), so the table has
gaps, as real snapshot tables do. A backlog is a balance: summed across queues, never over
days.
"""

from __future__ import annotations

import duckdb

from metricspec.demo.schema import SCHEMA

TABLE = "backlog_snapshots"


def _statement() -> str:
    s = SCHEMA
    number = "CAST(substr(c.conversation_id, 2) AS BIGINT)"
    return f"""CREATE OR REPLACE TABLE {s}.{TABLE} AS
        WITH tickets AS (
          SELECT c.channel || '_' || c.locale AS queue_id, c.channel, c.started_ts AS opened,
                 c.started_ts + to_days(CAST(1 + ({number} * 7919) % 5 AS INTEGER)) AS closed
          FROM {s}.conversations AS c WHERE c.escalated),
        days AS (
          SELECT CAST(d AS TIMESTAMP) AS snapshot_ts, row_number() OVER (ORDER BY d) AS dn
          FROM range(
            (SELECT date_trunc('day', min(opened)) + INTERVAL 1 DAY FROM tickets),
            (SELECT date_trunc('day', max(opened)) + INTERVAL 2 DAY FROM tickets),
            INTERVAL 1 DAY) AS r(d)),
        queues AS (SELECT queue_id, channel, row_number() OVER (ORDER BY queue_id) AS qn
                   FROM (SELECT DISTINCT queue_id, channel FROM tickets))
        SELECT q.queue_id, q.channel, d.snapshot_ts,
               CAST(count(t.queue_id) AS INTEGER) AS open_tickets
        FROM queues AS q CROSS JOIN days AS d
        LEFT JOIN tickets AS t ON t.queue_id = q.queue_id AND t.opened < d.snapshot_ts
          AND t.closed > d.snapshot_ts
        WHERE (q.qn * 7 + d.dn * 3) % 11 <> 0
        GROUP BY q.queue_id, q.channel, d.snapshot_ts
        ORDER BY d.snapshot_ts, q.queue_id"""


def add_backlog(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Create (or replace) the backlog snapshot table; its rows."""
    con.execute(_statement())
    found = con.execute(f"SELECT count(*) FROM {SCHEMA}.{TABLE}").fetchone()
    return {TABLE: int(found[0]) if found else 0}
