"""Fixtures of the security suite (helpers live in `security_support`).

PostgreSQL is the test harness's throw-away cluster (``tests/engines/harness``), started once
per session; its tests are marked ``engines`` and skip when PostgreSQL cannot start (they
fail instead under ``METRICSPEC_REQUIRE_ENGINES=1``). Sessions opened through
``Postgres.url`` log every statement (``log_statement=all``), so a test can read what the
server actually ran.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engines"))  # the harness

from harness.base import start_or_skip
from harness.postgres_engine import PostgresServer
from security_support import Postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    def start() -> PostgresServer:
        server = PostgresServer()
        try:
            server.start()
        except Exception:
            server.stop()
            raise
        return server

    server = start_or_skip(start, "PostgreSQL")
    try:
        yield Postgres(server)
    finally:
        server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start PostgreSQL belong to the `engines` group."""
    for item in items:
        if "postgres" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.engines)
