"""Filtered aggregates spelled two ways: `agg(x) FILTER (WHERE c)`, `agg(CASE WHEN c THEN x END)`.

    .venv/bin/python benchmarks/aggregate_spellings.py        # 10^6 rows, DuckDB + PostgreSQL
    .venv/bin/python benchmarks/aggregate_spellings.py --rows 10000000 --engines duckdb
    .venv/bin/python benchmarks/aggregate_spellings.py --engines spark      # local Spark

The spelling of each filtered aggregate form is backend data (`[aggregates]` in
`backends/<name>.toml`); this script is how it is chosen. For each engine it builds one
synthetic table (`rows` events: a day out of 30, a user out of rows/10, a value, three
conditions of different selectivity), then times, for each form, one query by day holding
three filtered aggregates of that form (as a metric query with several filtered metrics
does), spelled with FILTER and with CASE. Each query runs once to warm up and then `--runs`
times; the table shows the median, the CASE/FILTER ratio, and whether both spellings
returned the same rows (they must: a CASE without ELSE yields NULL, which every aggregate
here ignores, exactly like a row the FILTER drops).
"""

from __future__ import annotations

import argparse
import math
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CONDITIONS = ("flag", "v > 0.8", "k = 3")  # ~50%, ~20%, ~10% of the rows
FORMS = ("count", "count_distinct", "sum", "percentile")

Run = Callable[[str], list[tuple[Any, ...]]]


def aggregate(engine: str, form: str, cond: str, spelling: str) -> str:
    """One filtered aggregate of `form` over the rows where `cond` holds."""
    value = {"count": "1" if spelling == "case" else "*", "count_distinct": "user_id",
             "sum": "v", "percentile": "v"}[form]
    x = f"CASE WHEN {cond} THEN {value} END" if spelling == "case" else value
    if form == "count":
        call = f"COUNT({x})"
    elif form == "count_distinct":
        call = f"COUNT(DISTINCT {x})"
    elif form == "sum":
        call = f"SUM({x})"
    elif engine == "duckdb":
        call = f"QUANTILE_CONT({x}, 0.5)"
    elif engine == "spark":
        call = f"PERCENTILE({x}, 0.5)"  # exact, as backends/spark.toml spells it
    else:
        call = f"PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY {x})"
    return f"{call} FILTER (WHERE {cond})" if spelling == "filter" else call


def query(engine: str, form: str, spelling: str) -> str:
    aggs = ", ".join(f"{aggregate(engine, form, c, spelling)} AS m{i}"
                     for i, c in enumerate(CONDITIONS))
    return f"SELECT day, {aggs} FROM events GROUP BY day ORDER BY day"


def _generate(rows: int) -> str:
    users = max(rows // 10, 1)
    return (f"SELECT i % 30 AS day, (i * 7919) % {users} AS user_id, "
            f"((i * 2654435761) % 1000003) / 1000003.0 AS v, (i % 2 = 0) AS flag, "
            f"(i * 31) % 10 AS k FROM")


@contextmanager
def duckdb_engine(rows: int) -> Iterator[Run]:
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE TABLE events AS {_generate(rows)} range({rows}) AS r(i)")
    yield lambda sql: con.execute(sql).fetchall()
    con.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def postgres_engine(rows: int) -> Iterator[Run]:
    """A throwaway PostgreSQL server (as the OS user `postgres` when run as root)."""
    import psycopg

    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL binaries not found")
    bindir = Path(initdb).parent
    data = Path(tempfile.mkdtemp(prefix="aggspell-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(data, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust"], check=True, capture_output=True)
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l",
                    str(data / "log"), "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
                    "start"], check=True, capture_output=True)
    try:
        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres",
                             autocommit=True) as con:
            con.execute(f"CREATE TABLE events AS {_generate(rows)} "
                        f"generate_series(0, {rows - 1}::bigint) AS r(i)")
            con.execute("ANALYZE events")

            def run(sql: str) -> list[tuple[Any, ...]]:
                return list(con.execute(sql).fetchall())

            yield run
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def spark_engine(rows: int) -> Iterator[Run]:
    """Local Spark (both cores), the table cached in memory before anything is timed."""
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("aggregate_spellings")
             .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.sql.shuffle.partitions", "4").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        select = _generate(rows).replace("/ 1000003.0", "/ CAST(1000003 AS DOUBLE)")
        spark.sql(f"SELECT id AS i FROM range({rows})").createOrReplaceTempView("r")
        spark.sql(f"CACHE TABLE events AS {select} r")

        def run(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in spark.sql(sql).collect()]

        yield run
    finally:
        spark.stop()


ENGINES = {"duckdb": duckdb_engine, "postgres": postgres_engine, "spark": spark_engine}


def _same(a: Sequence[tuple[Any, ...]], b: Sequence[tuple[Any, ...]]) -> bool:
    def close(x: Any, y: Any) -> bool:
        if isinstance(x, float) or isinstance(y, float):
            return x is not None and y is not None and math.isclose(
                float(x), float(y), rel_tol=1e-9, abs_tol=1e-9)
        return bool(x == y)
    if len(a) != len(b) or any(len(r) != len(s) for r, s in zip(a, b, strict=True)):
        return False
    return all(close(x, y) for r, s in zip(a, b, strict=True) for x, y in zip(r, s, strict=True))


def measure(run: Run, sql: str, runs: int) -> tuple[float, list[tuple[Any, ...]]]:
    result = run(sql)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(sql)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", default="duckdb,postgres")
    args = parser.parse_args()
    print(f"{args.rows:,} rows; 3 filtered aggregates by day per query; median of {args.runs}")
    print(f"{'engine':<9} {'form':<15} {'FILTER s':>9} {'CASE s':>9} {'CASE/FILTER':>12} "
          f"{'same':>5}")
    failed = False
    for name in args.engines.split(","):
        with ENGINES[name](args.rows) as run:
            for form in FORMS:
                t_filter, r_filter = measure(run, query(name, form, "filter"), args.runs)
                t_case, r_case = measure(run, query(name, form, "case"), args.runs)
                same = _same(r_filter, r_case)
                failed |= not same
                print(f"{name:<9} {form:<15} {t_filter:>9.3f} {t_case:>9.3f} "
                      f"{t_case / t_filter:>12.2f} {'yes' if same else 'NO':>5}", flush=True)
    if failed:
        raise SystemExit("the two spellings returned different rows")


if __name__ == "__main__":
    main()
