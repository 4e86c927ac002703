"""Session-wide SQL engines for tests that prove generated SQL by running it.

Fixtures (all session-scoped, each started on first use and stopped at the end):

=====================  ============================================================
``duckdb_engine``      DuckDB in memory (the reference), product connector
``postgres_engine``    PostgreSQL from the Debian binaries, product connector
``spark_engine``       pyspark local[2], product connector
``snowflake_engine``   fakesnow in its own virtualenv, product connector in a worker
``bigquery_engine``    zetasql: analyzes as BigQuery SQL, then executes
``engine``             parametrized over all five (test ids: duckdb, postgres, ...)
``demo_warehouse``     the demo warehouse (``harness.generated_sql.DEMO_SCALE``) as a file and
                       Arrow tables, generated once for the modules that read it unchanged
=====================  ============================================================

Each gives ``load({"support.users": pyarrow_table, ...})`` and ``run(sql) -> list[tuple]``;
errors from the engine raise ``metricspec.run.connections.WarehouseError``. An engine that
cannot start skips its tests, unless ``METRICSPEC_REQUIRE_ENGINES=1`` (CI), which fails them.
Tests using an engine other than DuckDB are marked ``engines`` automatically.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # make `harness` importable in any import mode

from harness.base import Engine, start_or_skip

ENGINE_NAMES = ("duckdb", "postgres", "spark", "snowflake", "bigquery")
_STARTED: list[Engine] = []


def _start(factory: Callable[[], Engine], label: str) -> Iterator[Engine]:
    engine = start_or_skip(factory, label)
    _STARTED.append(engine)
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture(scope="session")
def duckdb_engine() -> Iterator[Engine]:
    """DuckDB in memory through ``duckdb:///:memory:``."""
    from harness.duckdb_engine import DuckDBEngine

    yield from _start(DuckDBEngine, "DuckDB")


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    """A PostgreSQL server started for this session (see ``harness.postgres_engine``)."""
    from harness.postgres_engine import PostgresEngine

    yield from _start(PostgresEngine, "PostgreSQL")


@pytest.fixture(scope="session")
def spark_engine() -> Iterator[Engine]:
    """A local Spark session (see ``harness.spark_engine``)."""
    from harness.spark_engine import SparkEngine

    yield from _start(SparkEngine, "Spark")


@pytest.fixture(scope="session")
def snowflake_engine() -> Iterator[Engine]:
    """Snowflake SQL on fakesnow (see ``harness.fakesnow_engine``)."""
    from harness.fakesnow_engine import FakesnowEngine

    yield from _start(FakesnowEngine, "fakesnow (Snowflake)")


@pytest.fixture(scope="session")
def bigquery_engine() -> Iterator[Engine]:
    """BigQuery SQL analyzed and executed by zetasql (see ``harness.zetasql_engine``)."""
    from harness.zetasql_engine import ZetaSQLEngine

    yield from _start(ZetaSQLEngine, "zetasql (BigQuery)")


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pa.Table]]:
    """The demo warehouse (``DEMO_SCALE``) as a DuckDB file (read it read-only) and as Arrow
    tables. Generated once: the same table objects loaded by two modules are loaded into an
    engine once (``Engine.load``)."""
    from harness.generated_sql import DEMO_SCALE, demo_tables

    path = tmp_path_factory.mktemp("demo_warehouse") / "demo.duckdb"
    return path, demo_tables(path, DEMO_SCALE)


@pytest.fixture(params=ENGINE_NAMES)
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each engine in turn."""
    found: Engine = request.getfixturevalue(f"{request.param}_engine")
    return found


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses an engine other than DuckDB with ``engines``."""
    others = {f"{n}_engine" for n in ENGINE_NAMES if n != "duckdb"} | {"engine"}
    for item in items:
        if others & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.engines)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Report how long each engine took to start, load and answer queries."""
    if not _STARTED:
        return
    terminalreporter.section("SQL engines")
    for engine in _STARTED:
        queries = engine.query_seconds
        per_query = (
            f"{len(queries)} queries, median {statistics.median(queries):.3f} s, "
            f"max {max(queries):.3f} s"
            if queries
            else "no queries"
        )
        terminalreporter.write_line(
            f"{engine.name:<10} start {engine.startup_seconds:6.2f} s; "
            f"load {sum(engine.load_seconds):6.2f} s total; {per_query}"
        )
