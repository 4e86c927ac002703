"""SQL efficiency: the generated experiment query against a hand-written one and the scan floor.

    .venv/bin/python benchmarks/sql_efficiency.py                 # ~10^7 messages (scale 15)
    .venv/bin/python benchmarks/sql_efficiency.py --quick         # ~10^6 messages (scale 0.9)
    .venv/bin/python benchmarks/sql_efficiency.py --warehouse /tmp/demo.duckdb   # reuse one

The warehouse is the demo generator's (`metricspec.demo.generate`), built into
`$TMPDIR/metricspec-bench/demo_s<scale>.duckdb` if it is not there yet (~2 min at scale 15).
The experiment is `bench_efficiency` in `benchmarks/efficiency_specs/` (15 metrics over
messages, conversations and feedback, with CUPED) on the `summarizer_v2` assignments.

Timed, interleaved, median of `--runs` (default 5) after one warm-up each:

* generated  — `metricspec sql bench_efficiency` (DuckDB dialect), as compiled now;
* hand-written — `benchmarks/sql/handwritten_bench_efficiency.sql`;
* floor      — one `SELECT count(*), sum(col)` per source table (4 tables), summed;
* floor, all columns — one scan per table aggregating every column the experiment reads.

Both results are compared: counts must be equal, sums equal to 1e-9 relative. Then
`EXPLAIN ANALYZE` of each query counts the scans of each base table and lists the slowest
operators.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from metricspec.backends import get_backend  # noqa: E402
from metricspec.pipeline import compile_object  # noqa: E402
from metricspec.workspace import Workspace  # noqa: E402

SPECS = HERE / "efficiency_specs"
HANDWRITTEN = HERE / "sql" / "handwritten_bench_efficiency.sql"
EXPERIMENT = "bench_efficiency"
TABLES = ("assignments", "messages", "conversations", "feedback")
FLOOR = {
    "assignments": "SELECT count(*), max(assigned_ts) FROM support.assignments",
    "messages": "SELECT count(*), sum(cost_usd) FROM support.messages",
    "conversations": "SELECT count(*), sum(turns) FROM support.conversations",
    "feedback": "SELECT count(*), sum(csat_score) FROM support.feedback",
}
# Every column the experiment reads, aggregated in one scan per table (no join, no filter).
FLOOR_ALL = {
    "assignments": "SELECT count(*), max(assigned_ts), max(user_id), max(variant), "
                   "max(experiment_id) FROM support.assignments",
    "messages": "SELECT count(*), max(ts), max(user_id), max(role), sum(cost_usd), "
                "sum(completion_tokens), sum(latency_ms), count(hallucinated), "
                "count(is_retry) FROM support.messages",
    "conversations": "SELECT count(*), max(started_ts), max(user_id), sum(turns), "
                     "count(escalated), count(resolved), sum(escalation_turn) "
                     "FROM support.conversations",
    "feedback": "SELECT count(*), max(ts), max(user_id), max(thumbs), sum(csat_score), "
                "sum(effort_score) FROM support.feedback",
}
KEYS = ("variant", "metric")
TARGET = 1.2


def warehouse_for(scale: float) -> Path:
    """The demo warehouse at `scale`, generated once into a temporary folder."""
    from metricspec.demo import generate

    folder = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / "metricspec-bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"demo_s{scale:g}.duckdb"
    if not path.exists():
        print(f"generating the demo warehouse at scale {scale:g} into {path} ...", flush=True)
        started = time.perf_counter()
        partial = path.with_suffix(".partial.duckdb")
        partial.unlink(missing_ok=True)
        generate(partial, scale=scale)
        partial.rename(path)
        print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def generated_sql() -> str:
    ws = Workspace.load(SPECS)
    if not ws.ok:
        raise SystemExit(ws.render())
    return compile_object(ws.index, EXPERIMENT, get_backend("duckdb")).sql


def rows_by_key(con: duckdb.DuckDBPyConnection, sql: str) -> dict[tuple[str, str], dict]:
    """Run `sql`; index its rows by (variant, metric), keeping the `segment = 'all'` ones."""
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    out = {}
    for row in cursor.fetchall():
        record = dict(zip(names, row, strict=True))
        if record.get("segment", "all") != "all" or record.get("metric_2") is not None:
            continue
        out[(record["variant"], record["metric"])] = record
    return out


def compare(generated: dict, handwritten: dict) -> tuple[int, int, float, list[str]]:
    """Compare every statistic: (values compared, counts, worst relative gap, problems)."""
    problems: list[str] = []
    if set(generated) != set(handwritten):
        problems.append(f"different rows: {sorted(set(generated) ^ set(handwritten))}")
    compared, counts, worst = 0, 0, 0.0
    for key in sorted(set(generated) & set(handwritten)):
        g, h = generated[key], handwritten[key]
        for column, value in h.items():
            if column in KEYS:
                continue
            other = g.get(column)
            if value is None or other is None:
                if (value is None) != (other is None):
                    problems.append(f"{key} {column}: generated {other}, hand-written {value}")
                continue
            compared += 1
            if column == "n" or (float(value).is_integer() and float(other).is_integer()
                                 and column not in ("q", "q_lower", "q_upper")):
                counts += 1
                if int(value) != int(other):
                    problems.append(f"{key} {column}: generated {other}, hand-written {value}")
                continue
            a, b = float(value), float(other)
            gap = abs(a - b) / max(abs(a), abs(b), 1e-300)
            worst = max(worst, gap)
            if gap > 1e-9:
                problems.append(f"{key} {column}: generated {other}, hand-written {value}")
    return compared, counts, worst, problems


def timed(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    started = time.perf_counter()
    con.execute(sql).fetchall()
    return time.perf_counter() - started


def scans_and_hotspots(con: duckdb.DuckDBPyConnection, sql: str, top: int,
                       tables: tuple[str, ...] = TABLES) -> tuple[dict, int, list]:
    """`EXPLAIN ANALYZE`: scans per base table, joins, and the `top` slowest operators."""
    text = con.execute("EXPLAIN (ANALYZE, FORMAT json) " + sql).fetchall()[0][1]
    scans = {t: 0 for t in tables}
    joins = 0
    operators: list[tuple[float, str]] = []
    stack = list(json.loads(text)["operator"])
    while stack:
        node = stack.pop()
        stack.extend(node.get("children", []))
        kind, info = node.get("type", ""), node.get("extra_info", {})
        table = str(info.get("Table", ""))
        if kind.endswith("SCAN") and table:
            name = table.rsplit(".", 1)[-1]
            if name in scans:
                scans[name] += 1
        if kind.endswith("JOIN"):
            joins += 1
        detail = table.rsplit(".", 1)[-1] if table else _short(info)
        operators.append((float(node.get("timing", 0.0)),
                          f"{kind} {detail} -> {node.get('intermediate_rows', 0):,} rows".strip()))
    operators.sort(reverse=True)
    return scans, joins, operators[:top]


def _short(info: dict) -> str:
    """A one-line hint of what an operator does (its groups, aggregates or window)."""
    for key in ("Join Type", "Groups", "Projections", "Aggregates", "Function"):
        if key in info:
            value = info[key]
            text = ", ".join(value) if isinstance(value, list) else str(value)
            return f"[{key}: {text[:60]}{'…' if len(text) > 60 else ''}]"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=15.0, help="demo scale (15 ≈ 10^7 messages)")
    parser.add_argument("--quick", action="store_true", help="scale 0.9 (≈ 10^6 messages), 3 runs")
    parser.add_argument("--warehouse", type=Path, help="an existing demo DuckDB file")
    parser.add_argument("--runs", type=int, help="timed runs per query (default 5; 3 quick)")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's)")
    parser.add_argument("--top", type=int, default=8, help="slowest operators to list")
    args = parser.parse_args()
    scale = 0.9 if args.quick else args.scale
    runs = args.runs or (3 if args.quick else 5)
    path = args.warehouse or warehouse_for(scale)
    generated = generated_sql()
    handwritten = HANDWRITTEN.read_text(encoding="utf-8")

    con = duckdb.connect(str(path), read_only=True)
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    sizes = {t: con.execute(f"SELECT count(*) FROM support.{t}").fetchall()[0][0] for t in TABLES}
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    print(f"warehouse {path} ({', '.join(f'{t} {n:,}' for t, n in sizes.items())}); "
          f"DuckDB {duckdb.__version__}, {threads} threads; median of {runs} runs after a warm-up")

    # Results first (also the warm-up).
    gen_rows, hand_rows = rows_by_key(con, generated), rows_by_key(con, handwritten)
    compared, counts, worst, problems = compare(gen_rows, hand_rows)
    for sql in list(FLOOR.values()) + list(FLOOR_ALL.values()):
        con.execute(sql).fetchall()

    times: dict[str, list[float]] = {"generated": [], "hand-written": [], "floor": [],
                                     "floor, all columns": []}
    per_table: dict[str, list[float]] = {t: [] for t in TABLES}
    for _ in range(runs):  # interleaved, so drift on a shared machine hits every query alike
        times["generated"].append(timed(con, generated))
        times["hand-written"].append(timed(con, handwritten))
        floor = 0.0
        for table, sql in FLOOR.items():
            seconds = timed(con, sql)
            per_table[table].append(seconds)
            floor += seconds
        times["floor"].append(floor)
        times["floor, all columns"].append(sum(timed(con, sql) for sql in FLOOR_ALL.values()))
    med = {k: statistics.median(v) for k, v in times.items()}

    print(f"\n{'query':<20} {'median s':>9} {'min s':>7} {'max s':>7} {'x hand':>7} {'x floor':>8}")
    for name, values in times.items():
        print(f"{name:<20} {med[name]:>9.3f} {min(values):>7.3f} {max(values):>7.3f} "
              f"{med[name] / med['hand-written']:>7.2f} {med[name] / med['floor']:>8.1f}")
    print("floor per table (median s): " + ", ".join(
        f"{t} {statistics.median(v):.4f}" for t, v in per_table.items()))
    ratio = med["generated"] / med["hand-written"]
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"target generated <= {TARGET}x hand-written: {verdict} ({ratio:.2f}x)")

    print(f"\nresults: {len(gen_rows)} rows each; {compared} values compared ({counts} counts "
          f"exact), largest relative gap of the sums {worst:.1e}: "
          + ("MATCH" if not problems else f"{len(problems)} MISMATCHES"))
    for problem in problems[:20]:
        print("  " + problem)

    for name, sql in (("generated", generated), ("hand-written", handwritten)):
        scans, joins, hot = scans_and_hotspots(con, sql, args.top)
        print(f"\nEXPLAIN ANALYZE {name}: scans per table "
              + ", ".join(f"{t} {n}" for t, n in scans.items()) + f"; {joins} joins")
        for seconds, what in hot:
            print(f"  {seconds:8.3f} s  {what}")
    con.close()
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
