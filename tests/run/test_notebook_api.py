"""The Python API a notebook uses: load, SQL, run with typed results, Arrow tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from metricspec import stats
from metricspec.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]


def test_run_query_and_sql_from_python(demo_database: Path) -> None:
    ws = Workspace.load(REPO / "specs")
    url = f"duckdb:///{demo_database}"
    outcome = ws.run("prompt_template_v3", url)
    assert outcome.result.decision.outcome is stats.Outcome.SHIP
    table = outcome.metrics()
    assert "hallucination_rate" in table.column("metric").to_pylist()
    assert outcome.statistics().num_rows == len(outcome.rows)
    series = ws.query(["csat", "hallucination_rate"], url, grain="week", dimensions=["channel"],
                      since=None, until=None)
    assert set(series.column_names) == {"period", "channel", "csat", "hallucination_rate"}
    assert ws.sql("csat", "bigquery").startswith("-- metricspec metric `csat`")


def test_errors_in_specs_are_a_clear_value_error(tmp_path: Path) -> None:
    (tmp_path / "bad.mspec").write_text("metric a = count(nowhere)\n")
    ws = Workspace.load(tmp_path)
    with pytest.raises(ValueError, match="MS202"):
        ws.sql("a")


def test_sql_for_an_engine_that_cannot_compute_a_metric_is_a_clear_value_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "p.mspec").write_text(
        "source events = table app.events { entity user_id; time ts }\n"
        "metric users_approx = count_distinct(events.user_id, approximate)\n"
        "metric users = count_distinct(events.user_id)\n")
    ws = Workspace.load(tmp_path)
    assert ws.ok and "approx" in ws.sql("users_approx", "duckdb").lower()
    with pytest.raises(ValueError, match="MS455"):  # not the compiler's internal error
        ws.sql("users_approx", "postgres")
    assert "COUNT(DISTINCT" in ws.sql("users", "postgres")  # another metric is no concern
