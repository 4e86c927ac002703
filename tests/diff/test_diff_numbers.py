"""`metricspec diff --warehouse`: the old and the new definition of each changed metric run
over the same range, on the demo warehouse (DuckDB), in one statement per group of sources.

Each number is checked against running that definition on its own with the workspace API
(`Workspace.query`, grain `month` over one calendar month: one period, the whole range)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metricspec.backends import all_backends, get_backend
from metricspec.cli import app
from metricspec.demo import generate
from metricspec.diff import compare
from metricspec.diff.numbers import warehouse_numbers
from metricspec.run.connections import QueryResult, connect
from metricspec.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
SINCE, UNTIL = dt.datetime(2026, 10, 1), dt.datetime(2026, 11, 1)
# (file, old, new): a filter added on feedback, one on messages, a label edited (not run)
EDITS = [
    ("quality.mspec", "avg(feedback.csat_score)", "avg(feedback.csat_score where csat_score > 1)"),
    ("operations.yaml", "avg(messages.completion_tokens where role = 'assistant')",
     "avg(messages.completion_tokens where role = 'assistant' and turn > 1)"),
    ("quality.mspec", '"Customer effort score"', '"Effort (1-7)"'),
]
runner = CliRunner()


def sides(root: Path) -> tuple[Path, Path]:
    base, head = root / "base", root / "head"
    shutil.copytree(REPO / "specs", base)
    shutil.copytree(REPO / "specs", head)
    for file, old, new in EDITS:
        text = (head / file).read_text(encoding="utf-8")
        assert old in text
        (head / file).write_text(text.replace(old, new), encoding="utf-8")
    return base, head


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("numbers")
    generate(root / "demo.duckdb", scale=0.2)
    return (*sides(root), f"duckdb:///{root / 'demo.duckdb'}")


def alone(folder: Path, metric: str, url: str) -> float:
    """One definition run by itself: the workspace API, one month = one period."""
    rows = Workspace.load(folder).query([metric], url, grain="month", since=SINCE,
                                        until=UNTIL).to_pylist()
    assert len(rows) == 1, rows
    return float(rows[0][metric])


def test_numbers_equal_each_definition_run_alone(setup: tuple[Path, Path, str]) -> None:
    base, head, url = setup
    result = runner.invoke(app, ["diff", str(base), str(head), "--no-sql", "--format", "json",
                                 "--warehouse", url, "--since", "2026-10-01", "--until",
                                 "2026-11-01", "--today", "2026-11-20"])
    assert result.exit_code == 0, result.output
    numbers = json.loads(result.output)["numbers"]
    by_name = {m["name"]: m for m in numbers["metrics"]}
    assert sorted(by_name) == ["csat_score", "tokens_per_answer"]  # not the label edit
    for name, item in by_name.items():
        assert item["note"] is None
        assert item["base"] == pytest.approx(alone(base, name, url), rel=1e-12)
        assert item["head"] == pytest.approx(alone(head, name, url), rel=1e-12)
        assert item["base"] != pytest.approx(item["head"], rel=1e-6)
    assert numbers["statements"] == 2  # feedback and messages: no metric reads both


def test_one_statement_per_source(setup: tuple[Path, Path, str]) -> None:
    base, head, url = setup
    before, after = Workspace.load(base), Workspace.load(head)
    diff = compare(before.index, after.index, dt.date(2026, 11, 20))
    ran: list[str] = []

    class Recording:
        def __init__(self, conn: object) -> None:
            self.conn = conn

        @property
        def dialect(self) -> str:
            return self.conn.dialect  # type: ignore[attr-defined,no-any-return]

        def execute(self, sql: str) -> QueryResult:
            ran.append(sql)
            return self.conn.execute(sql)  # type: ignore[attr-defined,no-any-return]

    with connect(url) as conn:
        numbers = warehouse_numbers(diff, before.index, after.index, Recording(conn),  # type: ignore[arg-type]
                                    SINCE, UNTIL)
    queries = [s for s in ran if "metric numbers" in s]
    assert len(queries) == 2 == len(numbers.statements)
    assert sorted(s.sources for s in numbers.statements) == [("feedback",), ("messages",)]
    for sql in queries:  # each source scanned once, old and new measures in one aggregate
        assert sql.count('FROM "support"."') == 1
    feedback = next(s.sql for s in numbers.statements if s.sources == ("feedback",))
    assert '"base_csat_score"' in feedback and '"head_csat_score"' in feedback


def test_text_and_markdown_show_the_change(setup: tuple[Path, Path, str]) -> None:
    base, head, url = setup
    args = ["diff", str(base), str(head), "--no-sql", "--warehouse", url, "--since",
            "2026-10-01", "--until", "2026-11-01", "--today", "2026-11-20"]
    text = runner.invoke(app, args)
    assert text.exit_code == 0, text.output
    assert "numbers, 2026-10-01 → 2026-11-01 (exclusive), 2 queries:" in text.output
    line = next(x for x in text.output.splitlines() if "(`csat_score`)" in x)
    assert line.startswith("  CSAT survey score (`csat_score`): ") and " → " in line
    markdown = runner.invoke(app, [*args, "--format", "markdown"])
    assert "### Numbers, 2026-10-01 → 2026-11-01 (exclusive)" in markdown.output
    assert "| CSAT survey score `csat_score` |" in markdown.output


def test_a_window_is_listed_not_computed(tmp_path: Path, setup: tuple[Path, Path, str]
                                         ) -> None:
    _, _, url = setup
    base, head = tmp_path / "base", tmp_path / "head"
    shutil.copytree(REPO / "specs", base)
    shutil.copytree(REPO / "specs", head)
    path = head / "quality.mspec"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("rolling(csat, 7 days)", "rolling(csat, 14 days)"),
                    encoding="utf-8")
    result = runner.invoke(app, ["diff", str(base), str(head), "--no-sql", "--format", "json",
                                 "--warehouse", url, "--since", "2026-10-01", "--today",
                                 "2026-11-20"])
    assert result.exit_code == 0, result.output
    numbers = json.loads(result.output)["numbers"]
    assert [(m["name"], m["base"]) for m in numbers["metrics"]] == [("csat_7d", None)]
    assert "window" in numbers["metrics"][0]["note"] and numbers["statements"] == 0


def test_warehouse_needs_since(setup: tuple[Path, Path, str]) -> None:
    base, head, url = setup
    result = runner.invoke(app, ["diff", str(base), str(head), "--warehouse", url])
    assert result.exit_code == 2 and "--since" in result.output


@pytest.mark.parametrize("dialect", sorted(all_backends()))
def test_the_range_query_renders_for_every_backend(tmp_path: Path, dialect: str) -> None:
    """The single-scan aggregate is built from the metric query's measures and the
    backend's spellings (filtered aggregates, percentiles, safe division) for each backend;
    DuckDB and PostgreSQL run it above."""
    from metricspec.diff.numbers import _plan, changed_pairs, combined
    from metricspec.emit.range_sql import range_sql
    from metricspec.emit.render import render_sql
    from metricspec.emit.sqlbuild import SqlBuilder

    base, head = sides(tmp_path)
    head_q = head / "operations.yaml"  # a percentile too: p95 of assistant latency
    head_q.write_text(head_q.read_text(encoding="utf-8").replace(
        "p95(messages.latency_ms where role = 'assistant')",
        "p95(messages.latency_ms where role = 'assistant' and turn > 1)"), encoding="utf-8")
    before, after = Workspace.load(base), Workspace.load(head)
    diff = compare(before.index, after.index, dt.date(2026, 11, 20))
    index, old, new = combined(before.index, after.index)
    names = [n for b, h in changed_pairs(diff) for n in (old + b, new + h)]
    assert len(names) == 6
    plan = _plan(index, names, SINCE, UNTIL)
    backend = get_backend(dialect)
    text = render_sql(range_sql(plan, SqlBuilder(backend)), backend, kind="metric numbers",
                      name="x", files=())
    assert text.count("_agg") >= 4 and "GROUP BY" not in text
