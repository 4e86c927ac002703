"""Exit statuses of `analyze` and `run` for the numbers' failure modes: a statistics file
with impossible rows is refused (exit 2, the message names the row); an analysis that could
not be done at all — no rows, no exposures — prints its report and exits 4."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from metricspec.cli import app
from metricspec.demo.generate import generate
from metricspec.stats import COLUMNS

REPO = Path(__file__).resolve().parents[2]
SPECS = str(REPO / "specs")
HEADER = ",".join(COLUMNS)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def csv_row(**cells: object) -> str:
    return ",".join("" if cells.get(c) is None else str(cells[c]) for c in COLUMNS)


def test_header_only_statistics_cannot_be_analysed(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(HEADER + "\n")
    code, output = invoke("analyze", "tone_tuning", "--stats", str(path), "-s", SPECS)
    assert code == 4, output
    assert "CANNOT ANALYSE" in output and "not run" in output
    assert "✓" not in output and "no primary metric declared" not in output
    code, output = invoke(
        "analyze", "tone_tuning", "--stats", str(path), "-s", SPECS, "--format", "json"
    )
    assert code == 4
    payload = json.loads(output)
    assert payload["analysis"]["decision"]["outcome"] == "cannot analyse"
    assert payload["analysis"]["srm"]["status"] == "not_run"


def test_impossible_statistics_are_refused_with_the_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    rows = [
        csv_row(
            experiment="tone_tuning", segment="all", variant="control", metric="__units__", n=100
        ),
        csv_row(
            experiment="tone_tuning",
            segment="all",
            variant="control",
            metric="csat",
            n=100,
            sum_x=50,
            sum_x2=10,
            sum_y=120,
            sum_y2=160,
            sum_xy=60,
        ),
    ]
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    code, output = invoke("analyze", "tone_tuning", "--stats", str(path), "-s", SPECS)
    assert code == 2, output
    flat = " ".join(output.split())
    assert "row 2" in flat and "sum_x2" in flat and "negative variance" in flat


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wh") / "small.duckdb"
    generate(path, scale=0.02)
    return path


def test_run_without_exposures_cannot_be_analysed(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse))
    con.execute("DELETE FROM support.assignments WHERE experiment_id = 'tone_tuning'")
    con.close()
    code, output = invoke(
        "run", "tone_tuning", "-s", SPECS, "-w", f"duckdb:///{warehouse}", "--format", "json"
    )
    assert code == 4, output
    analysis = json.loads(output)["analysis"]
    assert analysis["decision"]["outcome"] == "cannot analyse"
    assert {m["verdict"] for m in analysis["metrics"]} == {"insufficient data"}


def test_run_with_data_exits_zero(warehouse: Path) -> None:
    code, output = invoke(
        "run",
        "greeting_aa",
        "-s",
        SPECS,
        "-w",
        f"duckdb:///{warehouse}",
        "--format",
        "json",
        "--no-segments",
    )
    assert code == 0, output


def test_run_refuses_impossible_statistics_from_the_warehouse(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import metricspec.run.execute as execute

    real = execute.run_experiment

    def corrupt(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        for row in result.rows:
            if row["metric"] == "csat" and row.get("metric_2") is None:
                row["sum_x2"] = 0.5 * float(row["sum_x"] or 0) ** 2 / max(row["n"], 1)
        return result

    monkeypatch.setattr(execute, "run_experiment", corrupt)
    code, output = invoke("run", "greeting_aa", "-s", SPECS, "-w", f"duckdb:///{warehouse}")
    assert code == 3, output
    flat = " ".join(output.split())
    assert "unusable statistics" in flat and "negative variance" in flat
