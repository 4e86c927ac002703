"""The demo experiment on local Spark against DuckDB, on the same demo warehouse (issue 16,
item 6): identical results, and what each step costs.

    .venv/bin/python benchmarks/spark_scale.py                 # scale 15, ~10^7 messages
    .venv/bin/python benchmarks/spark_scale.py --scale 1       # smoke run, ~7·10^5 messages
    .venv/bin/python benchmarks/spark_scale.py --driver-memory 4g

The warehouse is the demo generator's, `$TMPDIR/metricspec-bench/demo_s<scale>.duckdb`
(`sql_efficiency.warehouse_for`: generated on first use). Every table of schema `support` is
exported to Parquet with DuckDB's `COPY`, then created in a local Spark session opened through
the product's connector (`spark://local[2]`, Spark's default settings: whole-stage code
generation and adaptive execution on) as a managed Parquet table, each column cast to the
Spark type of its DuckDB type; TIMESTAMP stays TIMESTAMP, with the session zone at UTC (the
connector's default). Row counts and the range of every timestamp column are compared.

The experiment is `summarizer_v2` of `specs/`, as `metricspec run` runs it: its
sufficient-statistics query (`run_experiment`, with the p95 latency guardrail and CUPED), the
analysis (`analyze_rows`) and the daily diagnostics (`run_daily`, `diagnose_rows`); then the
metric `latency_p95` by day (`metricspec query`: each engine's exact percentile function,
DuckDB's `QUANTILE_CONT` and Spark's `PERCENTILE`). The experiment's wall
time is the first (cold) run and the median of `--runs` more in the same session; CPU time is
this process's, plus the Spark JVM's on Spark (read from /proc). One more run of each, with
`tracemalloc` on, gives Python's peak allocation. Then every statistic is compared (counts
exactly, floats to `STATS_TOL`), and so is the analysis (to `ANALYSIS_TOL`; verdicts,
flags and texts exactly).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from sql_efficiency import warehouse_for  # noqa: E402

from metricspec.analyze import analyze_rows, diagnose_rows  # noqa: E402
from metricspec.plan.metric_query import Grain  # noqa: E402
from metricspec.run.connections import Connection, connect  # noqa: E402
from metricspec.run.execute import run_daily, run_experiment, run_metrics  # noqa: E402
from metricspec.workspace import Workspace  # noqa: E402

EXPERIMENT = "summarizer_v2"
SCHEMA = "support"
#: A percentile metric, queried by day: the engines' own exact percentile functions
#: (the experiment computes its quantiles from ranks in its SQL instead).
PERCENTILE = "latency_p95"
#: Relative tolerance for the statistics. They are sums of up to ~10^7 doubles, added in
#: another order by each engine (per thread, per partition): the rounding error of a sum of
#: n terms is at most (n - 1)·2^-53 ≈ 1.1e-9 of the sum of their magnitudes at n = 10^7.
STATS_TOL = 1e-9
#: The analysis derives variances by differences of such sums (sum of squares / n - mean²)
#: and p-values from them, which can amplify a 1e-12 difference by a few orders of magnitude.
ANALYSIS_TOL = 1e-6
#: DuckDB type name -> Spark SQL type (the demo's types, plus the usual neighbours).
SPARK_TYPES = {
    "VARCHAR": "STRING", "BIGINT": "BIGINT", "INTEGER": "INT", "SMALLINT": "SMALLINT",
    "TINYINT": "TINYINT", "DOUBLE": "DOUBLE", "FLOAT": "FLOAT", "BOOLEAN": "BOOLEAN",
    "DATE": "DATE", "TIMESTAMP": "TIMESTAMP",
}


def spark_type(duckdb_type: str) -> str:
    if duckdb_type.startswith("DECIMAL("):
        return duckdb_type
    if duckdb_type not in SPARK_TYPES:
        raise SystemExit(f"no Spark type for DuckDB's {duckdb_type}")
    return SPARK_TYPES[duckdb_type]


def support_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """Every table of schema `support` with its (column, DuckDB type) pairs, in order."""
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? ORDER BY table_name, ordinal_position", [SCHEMA]).fetchall():
        tables.setdefault(table, []).append((column, kind))
    return tables


def export_parquet(con: duckdb.DuckDBPyConnection, tables: list[str], folder: Path) -> None:
    for table in tables:
        target = folder / f"{table}.parquet"
        con.execute(f"COPY {SCHEMA}.{table} TO '{target}' (FORMAT parquet)")


def load_spark(conn: Connection, tables: dict[str, list[tuple[str, str]]], folder: Path) -> None:
    """Create each table as a managed Parquet table, filled with explicit casts (as the engine
    tests' Spark harness does)."""
    conn.execute(f"CREATE DATABASE IF NOT EXISTS `{SCHEMA}`")
    for table, cols in tables.items():
        ddl = ", ".join(f"`{c}` {spark_type(t)}" for c, t in cols)
        select = ", ".join(f"CAST(`{c}` AS {spark_type(t)})" for c, t in cols)
        conn.execute(f"DROP TABLE IF EXISTS `{SCHEMA}`.`{table}`")
        conn.execute(f"CREATE TABLE `{SCHEMA}`.`{table}` ({ddl}) USING parquet")
        conn.execute(f"INSERT INTO `{SCHEMA}`.`{table}` SELECT {select} "
                     f"FROM parquet.`{folder / f'{table}.parquet'}`")


def profile(conn: Connection, tables: dict[str, list[tuple[str, str]]], quote: str,
            ) -> dict[str, tuple[Any, ...]]:
    """Row count and the range of every timestamp column of each table (naive UTC)."""
    out = {}
    for table, cols in tables.items():
        parts = ["COUNT(*)"] + [f"MIN({quote}{c}{quote}), MAX({quote}{c}{quote})"
                                for c, t in cols if t == "TIMESTAMP"]
        row = conn.execute(f"SELECT {', '.join(parts)} FROM {SCHEMA}.{table}").rows[0]
        out[table] = tuple(v.astimezone(dt.UTC).replace(tzinfo=None)
                           if isinstance(v, dt.datetime) and v.tzinfo else v for v in row)
    return out


def jvm_figures() -> tuple[float, int]:
    """CPU seconds and peak RSS (MB) of this process's child processes (the Spark JVM)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
    todo, cpu, peak = list(children.get(os.getpid(), [])), 0.0, 0
    ticks = os.sysconf("SC_CLK_TCK")
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        cpu += (int(fields[11]) + int(fields[12])) / ticks
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) // 1024)
    return cpu, peak


class Timed:
    """Wall and CPU seconds of each call; CPU includes the Spark JVM's when `jvm`."""

    def __init__(self, jvm: bool) -> None:
        self.jvm = jvm
        self.calls: list[tuple[float, float]] = []

    def __call__(self, work: Callable[[], Any]) -> Any:
        jvm0 = jvm_figures()[0] if self.jvm else 0.0
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = work()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        self.calls.append((wall, cpu + (jvm_figures()[0] - jvm0 if self.jvm else 0.0)))
        return result


def measure(index: Any, conn: Connection, runs: int, jvm: bool) -> dict[str, Any]:
    """The experiment `1 + runs` times (timed), once more under tracemalloc, then the
    analysis and the daily diagnostics as `metricspec run` does them."""
    timed = Timed(jvm)
    run = timed(lambda: run_experiment(index, EXPERIMENT, conn))
    for _ in range(runs):
        timed(lambda: run_experiment(index, EXPERIMENT, conn))
    tracemalloc.start()
    traced = run_experiment(index, EXPERIMENT, conn)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    analysis = analyze_rows(run.plan, run.rows)
    daily_timed = Timed(jvm)
    daily = daily_timed(lambda: run_daily(run.plan, conn))
    diagnostics = diagnose_rows(run.plan, daily, analysis)
    percentile = Timed(jvm)
    p95 = percentile(lambda: run_metrics(index, [PERCENTILE], conn, grain=Grain.parse("day")))
    warm = timed.calls[1:]
    return {
        "rows": run.rows, "traced_rows": traced.rows, "analysis": analysis.to_dict(),
        "daily": daily, "diagnostics": dataclasses.asdict(diagnostics), "cold": timed.calls[0],
        "warm": (statistics.median(w for w, _ in warm), statistics.median(c for _, c in warm)),
        "warm_all": [w for w, _ in warm], "daily_time": daily_timed.calls[0],
        "python_peak_mb": peak, "p95": p95, "p95_time": percentile.calls[0],
    }


class Diff:
    """Compares two nested results; numbers to a relative tolerance, all else exactly."""

    def __init__(self, tol: float) -> None:
        self.tol, self.max_rel, self.floats, self.below_floor = tol, 0.0, 0, 0
        self.mismatches: list[str] = []

    def compare(self, a: Any, b: Any, path: str = "", floor: float = 0.0) -> None:
        """Numbers within `floor` of each other are equal whatever their ratio."""
        if isinstance(a, dict) and isinstance(b, dict):
            if a.keys() != b.keys():
                self.mismatches.append(f"{path}: keys {sorted(a)} != {sorted(b)}")
            for key in a.keys() & b.keys():
                self.compare(a[key], b[key], f"{path}.{key}",
                             noise_floor(a) if key == "sum_x" else 0.0)
        elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
            if len(a) != len(b):
                self.mismatches.append(f"{path}: {len(a)} items != {len(b)}")
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                self.compare(x, y, f"{path}[{i}]")
        elif isinstance(a, float) or isinstance(b, float):
            if not isinstance(a, int | float) or not isinstance(b, int | float) or (
                    isinstance(a, bool) or isinstance(b, bool)):
                self.mismatches.append(f"{path}: {a!r} != {b!r}")
                return
            self.floats += 1
            x, y = float(a), float(b)
            if math.isnan(x) and math.isnan(y):
                return
            rel = abs(x - y) / max(abs(x), abs(y)) if x != y else 0.0
            if x != y and abs(x - y) <= floor:
                self.below_floor += 1
                return
            self.max_rel = max(self.max_rel, rel)
            if rel > self.tol:
                self.mismatches.append(f"{path}: {a!r} != {b!r} (relative {rel:.1e})")
        elif a != b:
            self.mismatches.append(f"{path}: {a!r} != {b!r}")

    def line(self, what: str) -> str:
        verdict = "equal" if not self.mismatches else f"{len(self.mismatches)} DIFFERENCES"
        return (f"{what}: {verdict} (tolerance {self.tol:g} relative; {self.floats} floats, "
                f"largest relative difference {self.max_rel:.1e}"
                + (f"; {self.below_floor} sums of centred terms within their rounding "
                   "noise" if self.below_floor else "") + ")")


def noise_floor(row: Any) -> float:
    """How far apart two engines' Σu of a `trend` row of the daily query may be: its terms
    are centred (Σu is 0 but for rounding), so its error is relative to Σ|u| ≤ √(n·Σu²)
    (Cauchy-Schwarz), not to Σu."""
    if not isinstance(row, dict) or row.get("kind") != "trend" or not row.get("sum_x2"):
        return 0.0
    return STATS_TOL * math.sqrt(float(row["n"]) * float(row["sum_x2"]))


def keyed(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for r in rows:
        key = "|".join(str(r.get(k)) for k in ("segment", "segment_value", "variant", "metric"))
        if key in out:
            raise SystemExit(f"two statistics rows for {key}")
        out[key] = r
    return out


def naive_utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def by_labels(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows keyed by everything but their numbers (the queries give no order); Spark's
    instants as DuckDB's naive UTC timestamps."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        r = {k: naive_utc(v) for k, v in row.items()}
        key = "|".join(f"{k}={v}" for k, v in sorted(r.items())
                       if not isinstance(v, int | float) or isinstance(v, bool))
        key += f"#{sum(1 for k in out if k.split('#')[0] == key)}"
        out[key] = r
    return out


def versions(spark: Connection) -> str:
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    return (f"Python {platform.python_version()}, DuckDB {duckdb.__version__}, "
            f"Spark {spark.native.version}, "
            f"pyspark {__import__('pyspark').__version__}, "
            f"Java {(java.stderr.splitlines() or ['?'])[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=15.0)
    parser.add_argument("--runs", type=int, default=3, help="warm runs after the cold one")
    parser.add_argument("--driver-memory", default=None,
                        help="spark.driver.memory (Spark's default, 1g, unless given)")
    args = parser.parse_args()
    path = warehouse_for(args.scale)
    ws = Workspace.load(ROOT / "specs")
    if not ws.ok:
        raise SystemExit(ws.render())
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
          flush=True)
    work = Path(tempfile.mkdtemp(prefix="metricspec-spark-scale-"))
    try:
        figures: dict[str, tuple[float, float]] = {}
        with connect(f"duckdb:///{path}?read_only=true") as duck:
            print("DuckDB: running the experiment ...", flush=True)
            on_duck = measure(ws.index, duck, args.runs, jvm=False)
            assert isinstance(duck.native, duckdb.DuckDBPyConnection)
            tables = support_tables(duck.native)
            duck_profile = profile(duck, tables, '"')
            timed = Timed(jvm=False)
            timed(lambda: export_parquet(duck.native, list(tables), work))
            figures["export to Parquet (DuckDB COPY)"] = timed.calls[0]
        parquet_mb = sum(f.stat().st_size for f in work.glob("*.parquet")) / 2**20
        warehouse_dir = work / "spark-warehouse"
        url = (f"spark://local[2]?spark.sql.warehouse.dir={warehouse_dir}"
               f"&spark.driver.extraJavaOptions=-Dderby.system.home={warehouse_dir}")
        if args.driver_memory:
            url += f"&spark.driver.memory={args.driver_memory}"
        timed = Timed(jvm=True)  # no JVM before: its CPU is all start-up
        spark = timed(lambda: connect(url))
        timed(lambda: spark.execute("SELECT 1"))
        figures["Spark session start (connect + SELECT 1)"] = (
            sum(w for w, _ in timed.calls), sum(c for _, c in timed.calls))
        with spark:
            timed = Timed(jvm=True)
            timed(lambda: load_spark(spark, tables, work))
            figures["Spark table creation (from Parquet)"] = timed.calls[0]
            spark_profile = profile(spark, tables, "`")
            print("Spark: running the experiment ...", flush=True)
            on_spark = measure(ws.index, spark, args.runs, jvm=True)
            jvm_peak = jvm_figures()[1]
            about = versions(spark)
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        report(args, path, about, figures, parquet_mb, jvm_peak, tables, duck_profile,
               spark_profile, on_duck, on_spark)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(args: argparse.Namespace, path: Path, about: str,
           figures: dict[str, tuple[float, float]], parquet_mb: float, jvm_peak: int,
           tables: dict[str, list[tuple[str, str]]], duck_profile: dict[str, tuple[Any, ...]],
           spark_profile: dict[str, tuple[Any, ...]], on_duck: dict[str, Any],
           on_spark: dict[str, Any]) -> None:
    rows = sum(p[0] for p in duck_profile.values())
    print(f"\n{EXPERIMENT} on {path.name} (scale {args.scale:g}: {rows:,} rows in "
          f"{len(tables)} tables, {duck_profile.get('messages', ('?',))[0]:,} messages); "
          f"{about}; driver memory {args.driver_memory or 'default (1g)'}")
    loaded = "equal" if duck_profile == spark_profile else (
        f"DIFFERENT: {duck_profile} != {spark_profile}")
    print(f"tables in Spark against DuckDB (row counts, timestamp ranges): {loaded}")
    print(f"\n{'step':46} {'wall s':>8} {'CPU s':>8}")
    for step, (wall, cpu) in figures.items():
        print(f"{step:46} {wall:8.2f} {cpu:8.2f}")
    print(f"(Parquet files: {parquet_mb:.0f} MB; Spark CPU includes the JVM's)")
    print(f"\n{'experiment query (run_experiment)':34} {'cold wall':>9} {'cold CPU':>9} "
          f"{'warm wall':>9} {'warm CPU':>9} {'daily wall':>10} {'p95 wall':>8} "
          f"{'Py peak MB':>10}")
    for name, m in (("DuckDB", on_duck), ("Spark local[2]", on_spark)):
        print(f"{name:34} {m['cold'][0]:9.2f} {m['cold'][1]:9.2f} {m['warm'][0]:9.2f} "
              f"{m['warm'][1]:9.2f} {m['daily_time'][0]:10.2f} {m['p95_time'][0]:8.2f} "
              f"{m['python_peak_mb']:10.1f}")
    print(f"(warm: median of {args.runs} runs after the cold one, in the same session; "
          f"DuckDB {', '.join(f'{w:.2f}' for w in on_duck['warm_all'])} s, Spark "
          f"{', '.join(f'{w:.2f}' for w in on_spark['warm_all'])} s; Spark JVM peak RSS "
          f"{jvm_peak} MB)")
    print()
    for what, a, b, tol in (
            ("statistics rows", keyed(on_duck["rows"]), keyed(on_spark["rows"]), STATS_TOL),
            ("statistics rows, repeated run", keyed(on_spark["rows"]),
             keyed(on_spark["traced_rows"]), STATS_TOL),
            ("analysis (effects, p-values, verdicts)", on_duck["analysis"],
             on_spark["analysis"], ANALYSIS_TOL),
            ("daily diagnostics rows", by_labels(on_duck["daily"]),
             by_labels(on_spark["daily"]), STATS_TOL),
            ("daily diagnostics", on_duck["diagnostics"], on_spark["diagnostics"],
             ANALYSIS_TOL),
            (f"`metricspec query {PERCENTILE}` by day rows", by_labels(on_duck["p95"]),
             by_labels(on_spark["p95"]), STATS_TOL)):
        diff = Diff(tol)
        diff.compare(a, b)
        count = f" ({len(a)} rows)" if "rows" in what else ""
        print(diff.line(what + count))
        for line in diff.mismatches[:10]:
            print(f"    {line}")


if __name__ == "__main__":
    main()
