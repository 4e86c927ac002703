"""`check` after a small change runs the rules only over what the change affects
(`metricspec.check.incremental`): over chains of changes to the example specs, each result
is compared with a full check of the same files without a cache, and the test asserts which
changes were judged incrementally and which fell back to checking everything."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from pydantic import BaseModel

import metricspec.check.incremental as incremental
from metricspec import ir
from metricspec.backends import resolve_dialects
from metricspec.cache import Cache, describe
from metricspec.workspace import Workspace
from tests.workflow.changes import SPECS, mutate

BACKENDS = resolve_dialects(["duckdb", "postgres", "bigquery", "snowflake", "spark"])

# (file, text, replacement, judged incrementally: True; checked in full: False; the same
# files were checked before, so the result is read from the cache: None)
STEPS = [
    # a metric's filter: the metric, what uses it (trust score, monitors, experiments...)
    ("quality.mspec", "count(feedback where thumbs = 'up')",
     "count(feedback where thumbs = 'down')", True),
    # a percentile that BigQuery approximates: its warning changes with it
    ("operations.yaml", "p95(messages.latency_ms where role = 'assistant')",
     "p90(messages.latency_ms where role = 'assistant')", True),
    # lines moved: every object below the comment is at another place
    ("quality.mspec", "metric ces ", "# effort, as surveyed\n\nmetric ces ", True),
    ("monitors.mspec", "min_n 500", "min_n 400", True),
    ("experiments/summarizer_v2.mspec", "alpha 0.05", "alpha 0.01", True),
    # an error: an error's hint may name any name in the project, so everything is checked
    ("quality.mspec", "avg(feedback.csat_score)", "avg(feedback.csat_scor)", False),
    # mended: the files as they were two steps ago
    ("quality.mspec", "avg(feedback.csat_scor)", "avg(feedback.csat_score)", None),
    # after a project with errors, everything again
    ("quality.mspec", "avg(feedback.csat_score)", "avg(feedback.csat_scor)", None),
    ("monitors.mspec", "min_n 400", "min_n 450", False),
    ("quality.mspec", "avg(feedback.csat_scor)", "avg(feedback.csat_score)", False),
    ("monitors.mspec", "min_n 450", "min_n 475", True),
    # a renamed metric, a changed source: everything
    ("quality.mspec", "metric csat_7d ", "metric csat_7day ", False),
    ("sources.mspec", "\"One row per user.\"", "\"One row per user, of any plan.\"", False),
    ("experiments/summarizer_v2.mspec", "alpha 0.01", "alpha 0.02", True),
]


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each check that was not read from the cache whole: whether it was judged
    incrementally (True) or in full (False)."""
    found: list[bool] = []
    real_change, real_recheck = incremental.change, incremental.recheck

    def change(*args: object, **kwargs: object) -> object:
        result = real_change(*args, **kwargs)  # type: ignore[arg-type]
        if result is None:
            found.append(False)
        return result

    def recheck(*args: object, **kwargs: object) -> object:
        result = real_recheck(*args, **kwargs)  # type: ignore[arg-type]
        found.append(result is not None)
        return result

    monkeypatch.setattr(incremental, "change", change)
    monkeypatch.setattr(incremental, "recheck", recheck)
    return found


def diagnostics(folder: Path, cache: Path | None) -> list[object]:
    ws = Workspace.load(folder, backends=BACKENDS, compile_check=False,
                        cache=None if cache is None else Cache.open(cache))
    return ws.diagnostics


def edit(folder: Path, name: str, text: str, replacement: str) -> None:
    path = folder / name
    before = path.read_text(encoding="utf-8")
    assert before.count(text) == 1, (name, text)
    path.write_text(before.replace(text, replacement), encoding="utf-8")


def test_each_change_gives_what_a_full_check_gives(tmp_path: Path,
                                                   answers: list[bool]) -> None:
    folder = tmp_path / "specs"
    shutil.copytree(SPECS, folder)
    first = diagnostics(folder, tmp_path / "cache")
    assert first == diagnostics(folder, None)
    assert any(not d.is_error for d in first)  # warnings to keep or drop  # type: ignore[attr-defined]
    for name, text, replacement, expected in STEPS:
        edit(folder, name, text, replacement)
        answers.clear()
        found = diagnostics(folder, tmp_path / "cache")
        assert found == diagnostics(folder, None), (name, text, replacement)
        assert answers == ([] if expected is None else [expected]), (name, text, replacement)


def test_warnings_come_and_go_with_the_change(tmp_path: Path, answers: list[bool]) -> None:
    """A change that removes a backend's warning, and one that brings it back, judged
    incrementally: the warning of the changed metric is dropped and found again."""
    folder = tmp_path / "specs"
    shutil.copytree(SPECS, folder)
    before = diagnostics(folder, tmp_path / "cache")
    warned = [d for d in before if "latency_p50" in d.message]  # type: ignore[attr-defined]
    assert warned, "the example specs' median latency is approximated on some backend"
    edit(folder, "operations.yaml", "median(messages.latency_ms where role = 'assistant')",
         "avg(messages.latency_ms where role = 'assistant')")
    without = diagnostics(folder, tmp_path / "cache")
    assert answers == [True] and without == diagnostics(folder, None)
    assert not [d for d in without if "latency_p50" in d.message]  # type: ignore[attr-defined]
    edit(folder, "operations.yaml", "avg(messages.latency_ms where role = 'assistant')",
         "p50(messages.latency_ms where role = 'assistant')")
    again = diagnostics(folder, tmp_path / "cache")
    assert answers == [True, True] and again == diagnostics(folder, None)
    assert [d for d in again if "latency_p50" in d.message]  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(1, 9))
def test_random_chains_of_changes(tmp_path: Path, answers: list[bool], seed: int) -> None:
    rng = random.Random(seed)
    folder = tmp_path / "specs"
    shutil.copytree(SPECS, folder)
    diagnostics(folder, tmp_path / "cache")
    for _ in range(20):
        path, text, replaced = mutate(rng, folder)
        expected = diagnostics(folder, None)
        assert diagnostics(folder, tmp_path / "cache") == expected, (path.name, replaced)
        if any(d.is_error for d in expected):  # type: ignore[attr-defined]
            path.write_text(text, encoding="utf-8")  # mended, so the chain goes on valid
            assert diagnostics(folder, tmp_path / "cache") == diagnostics(folder, None)
    assert answers.count(True) >= 5  # much of the chain was judged incrementally


def _spans(value: object) -> list[ir.Span]:
    if isinstance(value, ir.Span):
        return [value]
    if isinstance(value, BaseModel):
        return [s for field in value.__dict__.values() for s in _spans(field)]
    if isinstance(value, tuple | list):
        return [s for item in value for s in _spans(item)]
    return []


def test_an_object_s_extent_is_from_its_first_span_to_its_last() -> None:
    """Diagnostics are assigned to objects by the part of the file an object takes, which
    `describe` reads from its JSON: the same as from its spans, found by walking it."""
    project = Workspace.load(SPECS).project
    objects = [*project.sources, *project.metrics, *project.kpis, *project.guardrails,
               *project.experiments, *project.monitors]
    assert len(objects) > 40
    for obj in objects:
        spans = [s for s in _spans(obj) if s.line]
        first = min((s.line, s.column) for s in spans)
        last = max((s.end_line, s.end_column) for s in spans)
        assert describe(obj)[2] == (*first, *last), obj.name
        assert (obj.span.line, obj.span.column) >= first
