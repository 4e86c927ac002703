"""A request the specs cannot answer is refused before any warehouse connection is opened.

`metricspec query METRIC --by DIM` with a dimension the metric's sources lack, a grain that
does not exist or that a rolling window does not fit, an empty time range, an unknown metric,
monitor or experiment: exit status 2 with a message that says what would be valid — never
a connection, never the warehouse error (exit 3) it used to be.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from metricspec.cli import app

runner = CliRunner()

SPEC = """\
source events = table app.events {
  entity user_id; time ts; dimension country, plan; column amount: number
}
source orders = table app.orders {
  entity user_id; time ts; dimension country; column amount: number, variant: string
}
metric revenue = sum(orders.amount)
metric per_event = sum(orders.amount) / count(events)
metric weekly = rolling(revenue, 7 days)
metric target = 5%
monitor watch {
  metric revenue; every 1 hour; baseline trailing 6 hours; alert when below baseline by 20%
}
experiment trial {
  unit user_id; assignment orders variant variant
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14; primary revenue
}
"""


@pytest.fixture()
def project(tmp_path: Path) -> tuple[Path, Path]:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "project.mspec").write_text(SPEC, encoding="utf-8")
    return specs, tmp_path / "warehouse.duckdb"  # must never be created


def invoke(project: tuple[Path, Path], *args: str) -> tuple[int, str]:
    specs, database = project
    result = runner.invoke(app, [*args, "--spec-dir", str(specs),
                                 "--warehouse", f"duckdb:///{database}"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert not database.exists(), "a connection was opened for a request refused by the plan"
    return result.exit_code, result.output


@pytest.mark.parametrize("args,expected", [
    (["query", "revenue", "--by", "plan"], ["`plan` is not a dimension of `revenue`",
                                            "country"]),
    (["query", "per_event", "--by", "plan"], ["`plan`", "country"]),  # orders lacks plan
    (["query", "revenue", "--by", "countyr"], ["did you mean `country`?"]),
    (["query", "target", "--by", "country"], ["`country`", "share no dimension"]),
    (["query", "revenue", "--by", "period"], ["period"]),
    (["query", "revenue", "--by", "country", "--by", "country"], ["country"]),
    (["query", "revenue", "revenue"], ["revenue"]),
    (["query", "revenue", "--grain", "fortnight"], ["unknown grain `fortnight`"]),
    (["query", "revenue", "--grain", "7 minutes"], ["7 minutes"]),
    (["query", "weekly", "--grain", "month"], ["7 days", "month"]),
    (["query", "revenue", "--since", "2026-10-02", "--until", "2026-10-01"],
     ["time range is empty"]),
    (["query", "revenu"], ["unknown metric `revenu`", "revenue"]),
    (["monitor", "wach"], ["unknown monitor or guardrail `wach`", "watch"]),
    (["monitor", "watch", "--since", "2026-10-02", "--until", "2026-10-01"],
     ["time range is empty"]),
    (["run", "trail"], ["unknown experiment `trail`", "trial"]),
])
def test_requests_are_refused_before_connecting(project: tuple[Path, Path], args: list[str],
                                                expected: list[str]) -> None:
    status, output = invoke(project, *args)
    assert status == 2, output
    for text in expected:
        assert text in output, output


def test_a_valid_request_does_reach_the_warehouse(project: tuple[Path, Path]) -> None:
    """The refusal is not a blanket one: a dimension every source has goes through to the
    warehouse, which here has no tables (exit 3, after connecting)."""
    specs, database = project
    result = runner.invoke(app, ["query", "per_event", "--by", "country", "--spec-dir",
                                 str(specs), "--warehouse", f"duckdb:///{database}"])
    assert result.exit_code == 3, result.output


@pytest.mark.parametrize("args,expected", [
    (("sql", "revenue", "--by", "region"), "not a dimension"),
    (("sql", "revenue", "--grain", "fortnight"), "unknown grain"),
    (("sql", "revenue", "--since", "2026-02-01", "--until", "2026-01-01"), "range"),
])
def test_sql_request_errors_are_usage_errors(project: tuple[Path, Path],
                                             args: tuple[str, ...], expected: str) -> None:
    specs, _ = project
    result = runner.invoke(app, [*args, "--spec-dir", str(specs)])
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    assert expected in result.output
