"""Apache Spark, local[2], through the product connector (``spark://local[2]``).

Tables are managed Parquet tables of the database ``support`` in a temporary warehouse
directory (Spark's in-memory catalog, no Hive metastore). Columns are typed with explicit
casts from a Parquet file; TIMESTAMP is Spark's session-zone timestamp with the zone at UTC.

The test tables hold a few thousand rows, so what a query costs is Spark's fixed work per
query, not the rows: ``TEST_CONF`` turns off whole-stage code generation (a Java compile of
every stage of every query) and adaptive execution (re-planning after every shuffle). Both
change how Spark executes a plan, never what the SQL means: Spark promises the same answer
with and without either. Measured on the calendar tests' 22 queries, warmed up: 19.5 s of
JVM CPU with the defaults, 9.2 s without (docs/benchmarks.md, "The test suite").
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping

import pyarrow as pa

from harness.base import EngineUnavailable, columns, scratch_dir, split_name, write_parquet
from harness.duckdb_engine import ConnectorEngine
from metricspec.run.connections import WarehouseError, connect

#: Spark settings of the test session (see the module docstring); the product's own
#: defaults (``metricspec.run.drivers.spark``) apply otherwise.
TEST_CONF = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
}


def java_available() -> bool:
    """Return True when a ``java`` executable can be found."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.path.exists(os.path.join(java_home, "bin", "java")):
        return True
    return shutil.which("java") is not None


class SparkEngine(ConnectorEngine):
    """A local Spark session with a throw-away warehouse directory."""

    name = "spark"

    def __init__(self) -> None:
        if not java_available():
            raise EngineUnavailable("Java is not installed (Spark needs Java 17 or later)")
        try:
            import pyspark  # noqa: F401
        except ImportError as exc:
            raise EngineUnavailable(f"pyspark is not installed: {exc}") from exc
        started = time.perf_counter()
        warehouse = scratch_dir("spark-warehouse")
        url = (
            f"spark://local[2]?spark.sql.warehouse.dir={warehouse}"
            f"&spark.driver.extraJavaOptions=-Dderby.system.home={warehouse}"
            + "".join(f"&{key}={value}" for key, value in TEST_CONF.items())
        )
        try:
            connection = connect(url)
            connection.execute("SELECT 1")  # start the executors now, not in a test
        except WarehouseError as exc:
            raise EngineUnavailable(f"Spark did not start: {exc}") from exc
        super().__init__(connection)
        self.warehouse = warehouse
        self.startup_seconds = time.perf_counter() - started

    def _load(self, tables: Mapping[str, pa.Table]) -> None:
        """Create each table as a managed Parquet table and fill it from a Parquet file."""
        for qualified, table in tables.items():
            schema, name = split_name(qualified)
            cols = columns(table, self.name)
            path = write_parquet(table, self.scratch, qualified)
            ddl = ", ".join(f"`{c}` {t}" for c, t in cols)
            select = ", ".join(f"CAST(`{c}` AS {t})" for c, t in cols)
            self._run(f"CREATE DATABASE IF NOT EXISTS `{schema}`")
            self._run(f"DROP TABLE IF EXISTS `{schema}`.`{name}`")
            self._run(f"CREATE TABLE `{schema}`.`{name}` ({ddl}) USING parquet")
            self._run(f"INSERT INTO `{schema}`.`{name}` SELECT {select} FROM parquet.`{path}`")

    def close(self) -> None:
        """Stop Spark and remove the warehouse directory."""
        try:
            super().close()
        finally:
            shutil.rmtree(self.warehouse, ignore_errors=True)
