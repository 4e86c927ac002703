"""The demo warehouse under test and plain-SQL measurements on it.

Every measurement here is written from the contract (the schema and the planted effects in
``docs/demo-data.md``), not from the generator's code: exposures are first exposures inside the
window with multi-arm users excluded, and events count from a user's first exposure to the
window's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from metricspec.demo import DemoSummary

SCALE = 0.25

WINDOWS = {
    "summarizer_v2": ("2026-10-01", "2026-10-15"),
    "greeting_aa": ("2026-10-01", "2026-10-15"),
    "prompt_template_v3": ("2026-10-15", "2026-10-29"),
    "tone_tuning": ("2026-10-15", "2026-10-29"),
}
"""Each experiment's window as [start, end) dates."""


@dataclass
class Warehouse:
    """A generated warehouse: its connection, what ``generate`` returned, and SQL helpers."""

    con: duckdb.DuckDBPyConnection
    summary: DemoSummary

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def value(self, sql: str, *params: Any) -> Any:
        row = self.con.execute(sql, list(params)).fetchone()
        assert row is not None
        return row[0]

    def exposures_sql(self, experiment: str) -> str:
        """Return a CTE body: one row per single-arm exposed user with first exposure time."""
        start, end = WINDOWS[experiment]
        return f"""
            SELECT user_id, min(assigned_ts) AS first_ts, any_value(variant) AS variant
            FROM support.assignments
            WHERE experiment_id = '{experiment}'
              AND variant IN ('control', 'treatment')  -- as the analysis: declared arms only
              AND assigned_ts >= TIMESTAMP '{start}' AND assigned_ts < TIMESTAMP '{end}'
            GROUP BY user_id
            HAVING count(DISTINCT variant) = 1"""

    def by_arm(
        self, experiment: str, table: str, select: str, where: str = "TRUE"
    ) -> dict[str, tuple[Any, ...]]:
        """Aggregate ``select`` over ``table``'s events after first exposure, per variant."""
        end = WINDOWS[experiment][1]
        sql = f"""
            WITH exposure AS ({self.exposures_sql(experiment)})
            SELECT e.variant, {select}
            FROM exposure e JOIN support.{table} t USING (user_id)
            WHERE t.ts >= e.first_ts AND t.ts < TIMESTAMP '{end}' AND ({where})
            GROUP BY e.variant"""
        return {row[0]: row[1:] for row in self.rows(sql)}

    def ratio(self, experiment: str, table: str, select: str, where: str = "TRUE") -> float:
        """Return treatment / control of a one-column aggregate."""
        arms = self.by_arm(experiment, table, select, where)
        return float(arms["treatment"][0]) / float(arms["control"][0])

    def difference(self, experiment: str, table: str, select: str, where: str = "TRUE") -> float:
        """Return treatment - control of a one-column aggregate."""
        arms = self.by_arm(experiment, table, select, where)
        return float(arms["treatment"][0]) - float(arms["control"][0])
