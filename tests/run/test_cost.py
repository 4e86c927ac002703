"""What a run read (`metricspec.run.cost`): engine documents parsed, DuckDB measured live, scan
budgets refused before the query runs, and the figures in the terminal and JSON reports."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from metricspec.cli import app
from metricspec.run import cost
from metricspec.run.connections import connect

SPECS = str(Path(__file__).resolve().parents[2] / "specs")
runner = CliRunner()


@pytest.mark.parametrize("text, limit, unit", [
    ("10GB", 10 * 10**9, "bytes"), ("500 MB", 500 * 10**6, "bytes"), ("2GiB", 2 * 2**30, "bytes"),
    ("1.5 TB", 15 * 10**11, "bytes"), ("5M rows", 5 * 10**6, "rows"),
    ("1000000 rows", 10**6, "rows"), ("12 row", 12, "rows"), ("300 bytes", 300, "bytes"),
])
def test_budgets_are_read_in_bytes_or_rows(text: str, limit: int, unit: str) -> None:
    budget = cost.parse_budget(text)
    assert (budget.limit, budget.unit) == (limit, unit)


@pytest.mark.parametrize("text", ["", "ten GB", "10 parsecs", "10", "5GB rows", "-1GB", "1e9"])
def test_unreadable_budgets_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="scan budget"):
        cost.parse_budget(text)


def test_budget_against_an_estimate() -> None:
    estimate = cost.ScanCost((cost.TableScan("main.messages", 1000, 64000),), "test", False)
    assert cost.budget_problem(cost.parse_budget("1MB"), estimate, "duckdb") is None
    assert "more than the scan budget 10kB" in str(
        cost.budget_problem(cost.parse_budget("10kB"), estimate, "duckdb"))
    rows_only = cost.ScanCost((cost.TableScan("t", 1000),), "test", False)
    assert "gives rows only" in str(cost.budget_problem(cost.parse_budget("1GB"), rows_only, "x"))
    assert "no estimate" in str(cost.budget_problem(cost.parse_budget("1GB"), None, "spark"))


def test_snowflake_explain_document() -> None:
    # the shape Snowflake documents for EXPLAIN USING JSON (two scans of a join)
    document = {
        "GlobalStats": {"partitionsTotal": 3, "partitionsAssigned": 2, "bytesAssigned": 3072},
        "Operations": [[
            {"id": 0, "operation": "Result", "expressions": ["Z1.ID", "Z2.ID"]},
            {"id": 1, "parentOperators": [0], "operation": "InnerJoin",
             "expressions": ["joinKey: (Z1.ID = Z2.ID)"]},
            {"id": 2, "parentOperators": [1], "operation": "TableScan",
             "objects": ["DB.S.Z1"], "expressions": ["ID"], "partitionsAssigned": 1,
             "partitionsTotal": 1, "bytesAssigned": 1024},
            {"id": 3, "parentOperators": [1], "operation": "TableScan",
             "objects": ["DB.S.Z2"], "expressions": ["ID"], "partitionsAssigned": 1,
             "partitionsTotal": 2, "bytesAssigned": 2048},
        ]],
    }
    parsed = cost.snowflake_explain(json.dumps(document))
    assert [(s.table, s.bytes) for s in parsed.scans] == [("DB.S.Z1", 1024), ("DB.S.Z2", 2048)]
    assert parsed.bytes == 3072 and not parsed.measured and parsed.rows is None


def test_snowflake_query_history_row() -> None:
    parsed = cost.snowflake_history({"BYTES_SCANNED": 123456, "ROWS_PRODUCED": 4})
    assert parsed.measured and parsed.bytes == 123456
    assert "123.5 kB" in parsed.summary()


def test_bigquery_job_resource() -> None:
    resource = {"configuration": {"query": {}}, "statistics": {"query": {
        "totalBytesProcessed": "2000000000", "totalBytesBilled": "2000683008",
        "referencedTables": [{"projectId": "p", "datasetId": "d", "tableId": "t"},
                             {"projectId": "p", "datasetId": "d", "tableId": "t"}]}}}
    parsed = cost.bigquery_job(resource)
    assert parsed.measured and parsed.bytes == 2_000_000_000
    assert parsed.bytes_billed == 2_000_683_008
    assert [s.table for s in parsed.scans] == ["p.d.t"]
    assert parsed.to_json()["tables"] == [{"table": "p.d.t", "rows": None, "bytes": None}]


def test_duckdb_reports_the_rows_each_table_scan_read(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as native:
        native.execute("CREATE TABLE events AS SELECT range AS id, range % 3 AS g "
                       "FROM range(250000)")
        native.execute("CREATE TABLE users AS SELECT range AS id FROM range(1000)")
    with connect(f"duckdb:///{path}") as conn:
        conn.execute("SELECT g, count(*) FROM events GROUP BY g")
        measured = conn.last_cost
        assert measured is not None and measured.measured
        assert [(s.table, s.rows) for s in measured.scans] == [("w.main.events", 250000)]
        assert measured.bytes is not None  # bytes read from the file (0 when cached)
        conn.execute("SELECT count(*) FROM events e JOIN users u ON u.id = e.id")
        assert {s.table: s.rows for s in conn.last_cost.scans}["w.main.users"] == 1000
        estimate = conn.estimate("SELECT g, count(*) FROM events WHERE id > 5 GROUP BY g")
        assert estimate is not None and not estimate.measured
        assert [(s.table, s.rows) for s in estimate.scans] == [("w.main.events", 250000)]
    with connect("duckdb:///:memory:") as conn:
        conn.execute("SELECT 1")
        assert conn.last_cost is not None and conn.last_cost.scans == ()
        assert conn.last_cost.bytes is None  # nothing on disk to count


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def test_query_prints_what_it_read(demo_database: Path) -> None:
    code, output = _invoke("query", "csat", "--since", "2026-11-01", "--until", "2026-11-03",
                           "-s", SPECS, "-w", f"duckdb:///{demo_database}")
    assert code == 0, output
    [line] = [x for x in output.splitlines() if x.startswith("scanned: read (DuckDB")]
    with duckdb.connect(str(demo_database), read_only=True) as native:
        [(total,)] = native.execute("SELECT count(*) FROM support.feedback").fetchall()
    read = int(line.rsplit("support.feedback ", 1)[1].split(" rows")[0].replace(",", ""))
    # at most the table: DuckDB may skip row groups its zone maps rule out for the range
    assert 0 < read <= total


def test_budget_refuses_before_running(demo_database: Path) -> None:
    url = f"duckdb:///{demo_database}"
    code, output = _invoke("query", "csat", "-s", SPECS, "-w", url, "--max-scan", "10 rows")
    assert code == 3, output
    assert "more than the scan budget 10 rows" in output and "estimated" in output
    code, output = _invoke("query", "csat", "-s", SPECS, "-w", url, "--max-scan", "1GB")
    assert code == 3 and "gives rows only" in output, output
    code, _ = _invoke("query", "csat", "-s", SPECS, "-w", url, "--max-scan", "1000M rows")
    assert code == 0
    code, output = _invoke("query", "csat", "-s", SPECS, "-w", url, "--max-scan", "lots")
    assert code == 2 and "--max-scan" in output


def test_experiment_and_monitor_reports_carry_the_scan(demo_database: Path) -> None:
    url = f"duckdb:///{demo_database}"
    code, output = _invoke("run", "summarizer_v2", "-s", SPECS, "-w", url, "--format", "json")
    assert code == 0, output
    scan = json.loads(output)["report"]["scan"]
    assert scan["measured"] and scan["rows"] > 0
    assert {t["table"].split(".")[-1] for t in scan["tables"]} >= {"assignments"}
    code, output = _invoke("run", "summarizer_v2", "-s", SPECS, "-w", url, "--no-segments")
    assert "read (DuckDB profiler" in output
    code, output = _invoke("monitor", "-s", SPECS, "-w", url, "--format", "json")
    monitors = json.loads(output)["monitors"]
    assert all(m["scan"]["rows"] > 0 for m in monitors)
