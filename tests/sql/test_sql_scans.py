"""One scan per source: DuckDB's plan (`EXPLAIN`) of an experiment query reads each source
table once, however many metrics the experiment has.

Checked for the example experiments, and for a test-local experiment with sixteen metrics
(ratios, averages, a two-source ratio, two percentiles, a derived composite, CUPED,
winsorisation and a segment) over three sources, whose long-format rows are also compared
with pandas.
"""

from __future__ import annotations

import collections
import contextlib
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from experiment_reference import experiment_def, experiment_rows
from sql_paths import REPO
from sql_reference import Tables, assert_same_rows

from metricspec.backends import get_backend
from metricspec.pipeline import compile_object
from metricspec.semantic import Index
from metricspec.workspace import Workspace

MANY = """
experiment many_metrics "Sixteen metrics, three sources" {
  unit user_id
  assignment assignments variant variant where experiment_id = 'summarizer_v2'
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary csat
  secondary csat_score, ces, escalation_rate, task_completion, hallucination_rate
  secondary retry_rate, correction_rate, cost_per_query, prompt_cost_per_query
  secondary completion_cost_per_query, tokens_per_answer, queries_per_conversation, trust_score
  guardrail latency_p95 max_increase 10%
  guardrail latency_p99 max_increase 10%
  cuped 14 days
  segments platform
  winsorize cost_per_query at 99%
}
"""
TABLE = re.compile(r"Table: (?:[\w\"]+\.)?support\.(\w+)")


def scans(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, int]:
    """How often each `support.*` table is read in DuckDB's physical plan."""
    plan = "\n".join(row[1] for row in con.execute("EXPLAIN " + sql).fetchall())
    return dict(collections.Counter(TABLE.findall(plan)))


@pytest.fixture(scope="module")
def many_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    folder = tmp_path_factory.mktemp("many-metrics")
    shutil.copytree(REPO / "specs", folder / "specs")
    (folder / "specs" / "experiments" / "many_metrics.mspec").write_text(MANY, "utf-8")
    with contextlib.chdir(folder):
        ws = Workspace.load(Path("specs"))
    assert ws.ok, ws.render("text")
    return ws.index


@pytest.mark.parametrize("name", ["greeting_aa", "prompt_template_v3", "summarizer_v2",
                                  "tone_tuning"])
def test_example_experiments_scan_each_source_once(con, index: Index, name: str) -> None:
    sql = compile_object(index, name, get_backend("duckdb")).sql
    read = scans(con, sql)
    assert read and set(read.values()) == {1}, read
    assert "assignments" in read


def test_sixteen_metrics_scan_each_source_once(con, many_index: Index) -> None:
    experiment = many_index.experiments["many_metrics"]
    assert len({*experiment.primary, *experiment.secondary}) + len(experiment.guardrails) == 16
    sql = compile_object(many_index, "many_metrics", get_backend("duckdb")).sql
    assert scans(con, sql) == {"assignments": 1, "feedback": 1, "conversations": 1,
                               "messages": 1}


def test_sixteen_metrics_equal_pandas(con, tables: Tables, many_index: Index) -> None:
    sql = compile_object(many_index, "many_metrics", get_backend("duckdb")).sql
    actual = con.execute(sql).df()
    expected = experiment_rows(tables, experiment_def(many_index, "many_metrics"))
    keys = ["experiment", "segment", "segment_value", "variant", "metric", "metric_2"]
    numbers = [c for c in actual.columns if c not in keys]
    for column in numbers:
        if column not in expected:
            expected[column] = float("nan")
    assert_same_rows(actual, expected, keys, exact=("n", "q_n_star"), columns=numbers)
    assert {"latency_p95", "latency_p99", "queries_per_conversation"} <= set(actual.metric)
