"""`run --incremental` on PostgreSQL: after every refresh (late events, late assignment
rows moving exposures, a window that ends) the statistics equal a full run's."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness.postgres_engine import PostgresEngine

from metricspec.run.connections import connect
from tests.run.incremental_case import create_tables, refreshes


@pytest.mark.parametrize("experiment", ["checkout", "checkout_w", "checkout_j", "checkout_m"])
def test_refreshes_equal_full_runs_on_postgres(postgres_engine: PostgresEngine, tmp_path: Path,
                                               experiment: str) -> None:
    with connect(postgres_engine.server.url) as conn:
        conn.execute("DROP SCHEMA IF EXISTS app CASCADE")
        conn.execute("DROP SCHEMA IF EXISTS metricspec_state CASCADE")
        create_tables(conn)
        refreshes(conn, tmp_path, experiment)
