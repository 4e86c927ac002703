"""The diff's pieces on their own: experiment status by window, changes through sources."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from metricspec import ir
from metricspec.diff import compare, experiment_status
from metricspec.workspace import Workspace

SPAN = ir.Span.unknown()


def experiment(window: tuple[str, str] | None) -> ir.Experiment:
    found = None if window is None else ir.AnalysisWindow(
        span=SPAN, start=dt.datetime.fromisoformat(window[0]),
        end=dt.datetime.fromisoformat(window[1]))
    return ir.Experiment(span=SPAN, name="e", window=found)


@pytest.mark.parametrize(("today", "status"), [
    ("2026-10-14", "planned"), ("2026-10-15", "running"), ("2026-10-28", "running"),
    ("2026-10-29", "finished")])
def test_an_experiment_runs_from_its_first_to_its_last_day(today: str, status: str) -> None:
    exp = experiment(("2026-10-15", "2026-10-28"))
    assert experiment_status(exp, dt.date.fromisoformat(today)) == status


def test_an_experiment_without_a_window_is_unscheduled() -> None:
    assert experiment_status(experiment(None), dt.date(2026, 1, 1)) == "unscheduled"


SPEC = """\
source assignments = table {table} {{
  entity user_id: string
  time assigned_ts: timestamp
  column experiment_id: string, variant: string, amount: number
}}
metric revenue = sum(assignments.amount)
guardrail revenue_floor = revenue >= 10 every 1 day
experiment e {{
  unit user_id
  assignment assignments variant variant where experiment_id = 'e'
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-31
  primary revenue
}}
"""


def load(folder: Path, table: str) -> Workspace:
    folder.mkdir()
    (folder / "specs.mspec").write_text(SPEC.format(table=table), encoding="utf-8")
    ws = Workspace.load(folder)
    assert ws.ok, ws.render("text")
    return ws


def test_a_changed_table_reaches_metrics_guardrails_and_experiments(tmp_path: Path) -> None:
    base = load(tmp_path / "base", "app.assignments")
    head = load(tmp_path / "head", "app.assignments_v2")
    diff = compare(base.index, head.index, dt.date(2026, 10, 10))
    assert [(c.kind, c.name, c.change, c.fields or c.through) for c in diff.changed] == [
        ("source", "assignments", "meaning", ("table[1]",)),
        ("metric", "revenue", "dependency", ("source:assignments",)),
        ("guardrail", "revenue_floor", "dependency", ("metric:revenue",)),
        ("experiment", "e", "dependency", ("metric:revenue", "source:assignments")),
    ]
    assert [(i.kind, i.name, i.status) for i in diff.impact] == [
        ("metric", "revenue", None), ("guardrail", "revenue_floor", None),
        ("experiment", "e", "running")]
    assert diff.breaking == ["running experiment `e` changes meaning"]
    later = compare(base.index, head.index, dt.date(2026, 11, 1))
    assert later.meaning_changed and not later.breaking


def test_an_unused_assignment_column_changes_only_the_source(tmp_path: Path) -> None:
    base = load(tmp_path / "base", "app.assignments")
    (tmp_path / "head").mkdir()
    text = SPEC.format(table="app.assignments").replace("amount: number",
                                                        "amount: number, note: string")
    (tmp_path / "head" / "specs.mspec").write_text(text, encoding="utf-8")
    head = Workspace.load(tmp_path / "head")
    diff = compare(base.index, head.index, dt.date(2026, 10, 10))
    assert [(c.kind, c.name) for c in diff.changed] == [("source", "assignments")]
    assert not diff.breaking
