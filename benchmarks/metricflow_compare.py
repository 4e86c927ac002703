"""Side by side with MetricFlow: compile time per query and for the whole set, and run time.

    bash benchmarks/setup_metricflow.sh                       # once: MetricFlow's own venv
    .venv/bin/python benchmarks/metricflow_compare.py         # ~10^7 messages (scale 15)
    .venv/bin/python benchmarks/metricflow_compare.py --quick # ~10^6 messages, 3 runs

The same metrics are defined twice: in `specs/` for metricspec, and as a dbt project with
semantic models and metrics in `benchmarks/metricflow_project/` for MetricFlow (copied to a
temporary folder; `dbt run` creates one view per demo table in schema `mf` of the warehouse).
MetricFlow runs only in `.engines/metricflow-venv` through `benchmarks/metricflow_worker.py`.

Measured (medians of `--runs`):

* project load: `metricspec check specs` (a cold process: parse + check) and
  `Workspace.load("specs")` in a warm process, against `dbt parse` (builds the semantic
  manifest) and MetricFlow's engine construction from it;
* compile per query, warm, in process: metricspec plan + SQL against
  `MetricFlowEngine.explain` (what `mf query --explain` calls), for every shared metric by
  day, and for two multi-metric questions by day and channel over October 2026;
* the command line, cold: `metricspec sql csat` against `mf query --metrics csat --explain`;
* run time on DuckDB of each tool's SQL for the multi-metric questions (interleaved, after a
  warm-up), whether the results agree, and the scans and joins in each plan.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from sql_efficiency import scans_and_hotspots, warehouse_for  # noqa: E402

from metricspec.backends import get_backend  # noqa: E402
from metricspec.emit.metric_sql import metric_query_sql  # noqa: E402
from metricspec.emit.render import render_sql  # noqa: E402
from metricspec.emit.sqlbuild import SqlBuilder  # noqa: E402
from metricspec.plan.metric_query import Grain, plan_metric_query  # noqa: E402
from metricspec.workspace import Workspace  # noqa: E402

MF_VENV = Path(os.environ.get("MF_VENV", ROOT / ".engines" / "metricflow-venv"))
PROJECT = HERE / "metricflow_project"
SPECS = ROOT / "specs"
EXTRA = HERE / "metricflow_specs"  # Q3's distinct-count metrics
START, END = dt.datetime(2026, 10, 1), dt.datetime(2026, 11, 1)  # October, end exclusive
# Metrics defined in both (specs/ has one more: a conversion metric, not modelled here).
SHARED = (
    "csat", "csat_score", "ces", "escalation_rate", "task_completion", "deflection_rate",
    "hallucination_rate", "retry_rate", "correction_rate", "trust_score", "latency_p50",
    "latency_p95", "latency_p99", "conversation_count", "active_users", "total_cost",
    "queries_per_conversation", "cost_per_query", "prompt_cost_per_query",
    "completion_cost_per_query", "tokens_per_answer", "cost_per_conversation",
    "cost_per_resolution", "conversations_7d", "cumulative_cost", "csat_7d",
)
QUESTIONS = {
    "Q1": ("csat", "hallucination_rate", "cost_per_query", "conversation_count"),
    "Q2": ("latency_p95", "tokens_per_answer", "queries_per_conversation", "trust_score"),
    # ten metrics of one fact table: distinct counts, distinct counts under filters,
    # percentiles and filtered ratios (the forms whose spelling decides the run time)
    "Q3": ("bench_message_users", "bench_asking_users", "bench_answered_conversations",
           "bench_retrying_users", "bench_hallucinating_conversations", "latency_p50",
           "latency_p95", "latency_p99", "hallucination_rate", "retry_rate"),
}
# Q3 written by hand as one scan with the fastest DuckDB spellings (CASE inside the distinct
# counts, FILTER for counts): the floor a generated query is held to (target <= 1.1x).
HAND_Q3 = """
SELECT date_trunc('day', ts) AS day, channel,
  count(DISTINCT user_id),
  count(DISTINCT CASE WHEN role = 'user' THEN user_id END),
  count(DISTINCT CASE WHEN role = 'assistant' THEN conversation_id END),
  count(DISTINCT CASE WHEN role = 'user' AND is_retry THEN user_id END),
  count(DISTINCT CASE WHEN role = 'assistant' AND hallucinated THEN conversation_id END),
  quantile_cont(latency_ms, 0.5) FILTER (WHERE role = 'assistant'),
  quantile_cont(latency_ms, 0.95) FILTER (WHERE role = 'assistant'),
  quantile_cont(latency_ms, 0.99) FILTER (WHERE role = 'assistant'),
  count(*) FILTER (WHERE role = 'assistant' AND hallucinated)
    / nullif(count(*) FILTER (WHERE role = 'assistant'), 0),
  count(*) FILTER (WHERE role = 'user' AND is_retry)
    / nullif(count(*) FILTER (WHERE role = 'user'), 0)
FROM support.messages
WHERE ts >= TIMESTAMP '2026-10-01' AND ts < TIMESTAMP '2026-11-01'
GROUP BY 1, 2
"""
TABLES = ("messages", "conversations", "feedback")


def mf_bin(name: str) -> str:
    return str(MF_VENV / "bin" / name)


def ensure_metricflow() -> None:
    if not (MF_VENV / "bin" / "mf").exists():
        print("MetricFlow is not installed; running benchmarks/setup_metricflow.sh", flush=True)
        subprocess.run(["bash", str(HERE / "setup_metricflow.sh")], check=True)


def metricspec_sql(ws: Workspace, metrics: tuple[str, ...], dims: tuple[str, ...]) -> str:
    backend = get_backend("duckdb")
    plan = plan_metric_query(ws.index, list(metrics), grain=Grain("day"), dimensions=dims,
                             start=START, end=END)
    return render_sql(metric_query_sql(plan, SqlBuilder(backend)), backend,
                      kind="metric query", name=plan.title, files=plan.files)


def median_time(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        action()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run_cold(command: list[str], runs: int, cwd: Path, env: dict) -> float:
    def once() -> None:
        subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return median_time(once, runs)


def values(con: duckdb.DuckDBPyConnection, sql: str, keys: int) -> dict[tuple, tuple]:
    """Rows keyed by (day, dimension...), values rounded to nothing: compared later."""
    out = {}
    for row in con.execute(sql).fetchall():
        day = row[0].date() if isinstance(row[0], dt.datetime) else row[0]
        out[(day, *row[1:keys])] = tuple(row[keys:])
    return out


def agree(a: dict, b: dict) -> tuple[int, float, list[str]]:
    """Compare two result sets: (values compared, worst relative gap, problems)."""
    problems = []
    if set(a) != set(b):
        problems.append(f"{len(set(a) ^ set(b))} keys differ, e.g. {sorted(set(a) ^ set(b))[:3]}")
    worst, compared = 0.0, 0
    for key in sorted(set(a) & set(b)):
        for x, y in zip(a[key], b[key], strict=True):
            if x is None or y is None:
                if (x is None) != (y is None):
                    problems.append(f"{key}: {x} vs {y}")
                continue
            compared += 1
            gap = abs(float(x) - float(y)) / max(abs(float(x)), abs(float(y)), 1e-300)
            worst = max(worst, gap)
            if gap > 1e-9:
                problems.append(f"{key}: {x} vs {y}")
    return compared, worst, problems


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=15.0, help="demo scale (15 ≈ 10^7 messages)")
    parser.add_argument("--quick", action="store_true", help="scale 0.9 (≈ 10^6 messages), 3 runs")
    parser.add_argument("--warehouse", type=Path, help="an existing demo DuckDB file")
    parser.add_argument("--runs", type=int, help="runs per measurement (default 5; 3 quick)")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 5)
    ensure_metricflow()
    path = args.warehouse or warehouse_for(0.9 if args.quick else args.scale)

    tmp = Path(tempfile.mkdtemp(prefix="mf-bench-"))
    project = tmp / "project"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs"))
    env = {**os.environ, "MF_BENCH_DUCKDB": str(path), "DBT_PROFILES_DIR": str(project),
           "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    for name in ("VIRTUAL_ENV", "PYTHONPATH"):
        env.pop(name, None)
    dbt = [mf_bin("dbt")]
    subprocess.run([*dbt, "run", "--quiet"], cwd=project, env=env, check=True)  # the views

    print(f"warehouse {path}; {runs} runs per figure, medians; DuckDB {duckdb.__version__}")
    versions = subprocess.run(
        [mf_bin("python"), "-c", "import importlib.metadata as m; print(', '.join("
         "f'{p} {m.version(p)}' for p in ('metricflow', 'dbt-metricflow', 'dbt-core', "
         "'dbt-duckdb', 'dbt-semantic-interfaces')))"],
        capture_output=True, text=True, check=True, env=env).stdout.strip()
    print(f"MetricFlow side: {versions}")

    # --- project load -------------------------------------------------------------------
    load_ms = median_time(lambda: Workspace.load(SPECS), runs)
    ws = Workspace.load(SPECS, EXTRA)
    dbt_parse = run_cold([*dbt, "parse", "--no-partial-parse", "--quiet"], min(runs, 3),
                         project, env)

    # --- compile per query, warm, in process --------------------------------------------
    queries = [{"name": m, "metrics": [m], "group_by": ["metric_time__day"],
                "start": START.isoformat(), "end": (END - dt.timedelta(days=1)).isoformat()}
               for m in SHARED]
    queries += [{"name": q, "metrics": list(ms),
                 "group_by": ["metric_time__day", "conversation__channel"],
                 "start": START.isoformat(), "end": (END - dt.timedelta(days=1)).isoformat()}
                for q, ms in QUESTIONS.items()]
    request = tmp / "request.json"
    request.write_text(json.dumps({"queries": queries, "runs": runs, "profile": "Q1"}))
    worker = subprocess.run([mf_bin("python"), str(HERE / "metricflow_worker.py"),
                             str(project), str(request)],
                            cwd=project, env=env, capture_output=True, text=True, check=False)
    if worker.returncode != 0:
        raise SystemExit(f"MetricFlow worker failed:\n{worker.stderr[-3000:]}")
    mf = json.loads(worker.stdout.strip().splitlines()[-1])

    ms_times: dict[str, float] = {}
    ms_sql: dict[str, str] = {}
    metricspec_sql(ws, ("csat",), ())  # warm-up, as the MetricFlow engine warms on its first
    for q in queries:
        dims = ("channel",) if q["name"] in QUESTIONS else ()
        metrics = tuple(q["metrics"])
        ms_times[q["name"]] = median_time(
            lambda m=metrics, d=dims: metricspec_sql(ws, m, d), runs)
        ms_sql[q["name"]] = metricspec_sql(ws, metrics, dims)
    mf_times = {name: statistics.median(v["times"]) for name, v in mf["queries"].items()}

    print("\ncompile time per query (warm, in process; ms)")
    print(f"{'query':<36} {'metricspec':>10} {'MetricFlow':>10} {'MF / ms':>8}")
    for q in queries:
        name = q["name"]
        label = (f"{name} ({len(q['metrics'])} metrics by day, channel)"
                 if name in QUESTIONS else name)
        print(f"{label:<36} {1000 * ms_times[name]:>10.1f} {1000 * mf_times[name]:>10.1f} "
              f"{mf_times[name] / ms_times[name]:>8.1f}")
    singles = [q["name"] for q in queries if q["name"] not in QUESTIONS]
    ms_all, mf_all = sum(ms_times[n] for n in singles), sum(mf_times[n] for n in singles)
    label = f"all {len(singles)} metrics by day, one query each"
    print(f"{label:<36} {1000 * ms_all:>10.1f} "
          f"{1000 * mf_all:>10.1f} {mf_all / ms_all:>8.1f}")
    print(f"first MetricFlow query in a fresh engine: "
          f"{1000 * mf['queries'][singles[0]]['times'][0]:.0f} ms")

    ms_check = run_cold([sys.executable, "-m", "metricspec", "check", str(SPECS)],
                        min(runs, 3), ROOT, {**os.environ, "PYTHONPATH": str(ROOT)})
    print("\nproject load (s)")
    print(f"  metricspec: `metricspec check specs` (cold process) {ms_check:.2f}; "
          f"Workspace.load(specs) in a warm process {load_ms:.3f}")
    print(f"  MetricFlow: `dbt parse` (cold process, builds the semantic manifest) "
          f"{dbt_parse:.2f}; engine from the manifest {mf['engine']:.2f} "
          f"after importing MetricFlow {mf['import']:.2f}")
    print("command line, one metric's SQL (cold processes; s)")
    ms_cli = run_cold([sys.executable, "-m", "metricspec", "sql", "csat", "-s", str(SPECS)],
                      min(runs, 3), ROOT, {**os.environ, "PYTHONPATH": str(ROOT)})
    mf_cli = run_cold([mf_bin("mf"), "query", "--metrics", "csat", "--group-by",
                       "metric_time__day", "--explain"], min(runs, 3), project, env)
    print(f"  `metricspec sql csat` {ms_cli:.2f}; `mf query --metrics csat --explain` "
          f"{mf_cli:.2f} ({mf_cli / ms_cli:.1f}x)")

    # --- run time of the generated SQL --------------------------------------------------
    con = duckdb.connect(str(path), read_only=True)
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    print(f"\nrun time on DuckDB ({threads} threads; s)")
    print(f"{'question':<10} {'metricspec':>10} {'MetricFlow':>10} {'MF / ms':>8} "
          f"{'by hand':>8} {'ms/hand':>8}  results")
    plans = {}
    for q in QUESTIONS:
        a_sql, b_sql = ms_sql[q], mf["queries"][q]["sql"]
        a, b = values(con, a_sql, 2), values(con, b_sql, 2)  # warm-up and results
        compared, worst, problems = agree(a, b)
        hand = HAND_Q3 if q == "Q3" else None
        if hand is not None:
            more, worst_hand, wrong = agree(a, values(con, hand, 2))
            compared, worst = compared + more, max(worst, worst_hand)
            problems += [f"by hand: {w}" for w in wrong]
        ta, tb, th = [], [], []
        for _ in range(runs):
            for sql, sink in ((a_sql, ta), (b_sql, tb), (hand, th)):
                if sql is None:
                    continue
                t = time.perf_counter()
                con.execute(sql).fetchall()
                sink.append(time.perf_counter() - t)
        ma, mb = statistics.median(ta), statistics.median(tb)
        mh = f"{statistics.median(th):>8.3f} {ma / statistics.median(th):>8.2f}" if th else \
            f"{'':>8} {'':>8}"
        verdict = (f"agree ({compared} values, {len(a)} rows, worst gap {worst:.0e})"
                   if not problems else f"{len(problems)} DIFFER, e.g. {problems[0]}")
        print(f"{q:<10} {ma:>10.3f} {mb:>10.3f} {mb / ma:>8.2f} {mh}  {verdict}")
        plans[q] = (scans_and_hotspots(con, a_sql, 5, TABLES),
                    scans_and_hotspots(con, b_sql, 5, TABLES))

    print("\nwhere the time goes (EXPLAIN ANALYZE: scans per table, joins, slowest operators)")
    for q, pair in plans.items():
        for tool, (scans, joins, hot) in zip(("metricspec", "MetricFlow"), pair, strict=True):
            print(f"  {q} {tool}: " + ", ".join(f"{t} x{n}" for t, n in scans.items())
                  + f"; {joins} joins")
            for seconds, what in hot[:3]:
                print(f"      {seconds:7.3f} s  {what}")
    print("\nMetricFlow compile profile (Q1, cProfile, top by cumulative):")
    lines = mf["profile"].splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    print("\n".join("  " + line for line in lines[start:start + 16]))
    con.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
