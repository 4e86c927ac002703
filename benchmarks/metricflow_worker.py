"""Time MetricFlow's query compilation; runs inside MetricFlow's own venv, never metricspec's.

Called by benchmarks/metricflow_compare.py as

    .engines/metricflow-venv/bin/python benchmarks/metricflow_worker.py PROJECT_DIR REQUEST.json

where REQUEST.json holds {"queries": [{"name", "metrics", "group_by", "start", "end"}],
"runs": N, "profile": NAME-or-null}. Prints one JSON object: the seconds to load the dbt
project and build the engine, each query's compile times (`MetricFlowEngine.explain`, the
API behind `mf query --explain`) and SQL, and optionally a cProfile summary of one query.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import io
import json
import logging
import os
import pstats
import sys
import time
from pathlib import Path


def main() -> None:
    project, request_path = Path(sys.argv[1]), Path(sys.argv[2])
    request = json.loads(request_path.read_text())
    logging.disable(logging.CRITICAL)
    started = time.perf_counter()
    from dbt_metricflow.cli.cli_configuration import CLIConfiguration
    from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

    imported = time.perf_counter()
    os.chdir(project)
    config = CLIConfiguration()
    config.setup(dbt_profiles_path=project, dbt_project_path=project,
                 configure_file_logging=False)
    engine = config.mf
    ready = time.perf_counter()

    def make(query: dict) -> MetricFlowQueryRequest:
        return MetricFlowQueryRequest.create(
            metric_names=query["metrics"],
            group_by_names=query["group_by"],
            time_constraint_start=dt.datetime.fromisoformat(query["start"]),
            time_constraint_end=dt.datetime.fromisoformat(query["end"]),
        )

    out: dict = {"import": imported - started, "engine": ready - imported, "queries": {}}
    first = True
    for query in request["queries"]:
        times = []
        sql = ""
        for _ in range(request["runs"]):
            t = time.perf_counter()
            result = engine.explain(make(query))
            sql = result.sql_statement.sql
            times.append(time.perf_counter() - t)
        out["queries"][query["name"]] = {"times": times, "sql": sql, "first_in_process": first}
        first = False
    if request.get("profile"):
        query = next(q for q in request["queries"] if q["name"] == request["profile"])
        profiler = cProfile.Profile()
        profiler.enable()
        engine.explain(make(query))
        profiler.disable()
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats("cumulative").print_stats(25)
        out["profile"] = buffer.getvalue()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
