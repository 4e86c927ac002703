"""A build from the last build's snapshot (`metricspec.rebuild`) gives what a full build
without a cache gives: diagnostics, counts and every query (kind, name, backend, SQL,
header notes, and plan when asked for), over chains of changes to the example specs; the
test also asserts which builds were incremental."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from metricspec.backends import resolve_dialects
from metricspec.cache import Cache
from metricspec.rebuild import Build, build
from tests.workflow.changes import SPECS, mutate

BACKENDS = resolve_dialects(["duckdb", "bigquery"])


def compiled(result: Build) -> list[tuple[object, ...]]:
    return [(q.kind, q.name, q.backend.name, q.sql, q.notes) for q in result.compiled]


def same(first: Build, second: Build) -> bool:
    return (first.diagnostics == second.diagnostics and compiled(first) == compiled(second)
            and first.counts == second.counts and first.summary() == second.summary()
            and [str(f) for f in first.failed] == [str(f) for f in second.failed])


class Project:
    """The example specs in a folder, built with a cache and without."""

    def __init__(self, tmp_path: Path, per_metric: bool = False) -> None:
        self.root = tmp_path
        self.folder = tmp_path / "specs"
        shutil.copytree(SPECS, self.folder)
        self.per_metric = per_metric

    def build(self, cached: bool = True) -> Build:
        cache = Cache.open(self.root / "cache") if cached else None
        return build([self.folder], BACKENDS, root=self.root, cache=cache,
                     per_metric=self.per_metric)

    def edit(self, name: str, text: str, replacement: str) -> None:
        path = self.folder / name
        before = path.read_text(encoding="utf-8")
        assert before.count(text) == 1, (name, text)
        path.write_text(before.replace(text, replacement), encoding="utf-8")

    def compare(self) -> Build:
        found, expected = self.build(), self.build(cached=False)
        assert same(found, expected)
        return found


# (file, text, replacement, built from the snapshot)
STEPS = [
    ("quality.mspec", "count(feedback where thumbs = 'up')",
     "count(feedback where thumbs = 'down')", True),
    ("operations.yaml", "p95(messages.latency_ms where role = 'assistant')",
     "p90(messages.latency_ms where role = 'assistant')", True),
    # the metric reads another source: it moves to another source group
    ("quality.mspec", "avg(feedback.effort_score)", "avg(messages.latency_ms)", True),
    ("quality.mspec", "metric ces ", "# effort, as surveyed\n\nmetric ces ", True),
    ("monitors.mspec", "min_n 500", "min_n 400", True),
    ("experiments/summarizer_v2.mspec", "alpha 0.05", "alpha 0.01", True),
    ("kpis.mspec", "every 1 hour", "every 2 hours", True),
    # an error: the build is in full, and compiles nothing
    ("quality.mspec", "avg(feedback.csat_score)", "avg(feedback.csat_scor)", False),
    # mended: the files the snapshot was left by (a build with errors leaves none)
    ("quality.mspec", "avg(feedback.csat_scor)", "avg(feedback.csat_score)", True),
    ("monitors.mspec", "min_n 400", "min_n 450", True),
    # a renamed metric, a changed source: in full
    ("quality.mspec", "metric csat_7d ", "metric csat_7day ", False),
    ("sources.mspec", "\"One row per user.\"", "\"One row per user, of any plan.\"", False),
    ("experiments/summarizer_v2.mspec", "alpha 0.01", "alpha 0.02", True),
]


@pytest.mark.parametrize("per_metric", [False, True])
def test_each_change_builds_what_a_full_build_builds(tmp_path: Path, per_metric: bool) -> None:
    """With `per_metric` (one query per metric besides the groups), the first changes, to
    the metric that moves to another source group."""
    project = Project(tmp_path, per_metric)
    first = project.compare()
    assert not first.incremental and first.compiled
    again = project.compare()
    assert again.incremental  # nothing changed: all from the snapshot
    for name, text, replacement, expected in STEPS[:3] if per_metric else STEPS:
        project.edit(name, text, replacement)
        assert project.compare().incremental is expected, (name, text, replacement)


def test_plans_of_queries_from_the_snapshot_are_read_when_asked_for(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.build()
    project.edit("monitors.mspec", "min_n 500", "min_n 400")
    found, expected = project.build(), project.build(cached=False)
    assert found.incremental
    plans = {(q.kind, q.name, q.backend.name): q.plan for q in expected.compiled}
    for query in found.compiled:
        assert query.plan == plans[query.kind, query.name, query.backend.name], query.name


def test_a_query_missing_from_the_cache_is_built_in_full(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.build()
    shutil.rmtree(tmp_path / "cache" / "sql")
    shutil.rmtree(tmp_path / "cache" / "pack")
    project.edit("monitors.mspec", "min_n 500", "min_n 400")
    assert not project.compare().incremental
    project.edit("monitors.mspec", "min_n 400", "min_n 300")
    assert project.compare().incremental


@pytest.mark.parametrize("seed", [1, 2])
def test_random_chains_of_changes(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    project = Project(tmp_path)
    project.build()
    incremental = 0
    for _ in range(10):
        path, text, _ = mutate(rng, project.folder)
        result = project.compare()
        incremental += result.incremental
        if not result.ok:
            path.write_text(text, encoding="utf-8")  # mended, so the chain goes on valid
            project.compare()
    assert incremental >= 3


def test_the_compile_command_builds_from_the_last_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`metricspec compile` after a change writes what a build without a cache writes, and
    says (with --verbose) that it built from the last build."""
    from typer.testing import CliRunner

    from metricspec.cli import app

    runner = CliRunner()
    shutil.copytree(SPECS, tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("METRICSPEC_NO_CACHE", raising=False)
    monkeypatch.delenv("METRICSPEC_CACHE_DIR", raising=False)

    def compile_(out: str, *extra: str) -> str:
        result = runner.invoke(app, ["-v", "compile", "specs", "-d", "duckdb,bigquery",
                                     "-o", out, *extra])
        assert result.exit_code == 0, result.output
        return result.stderr

    assert "since the last build" not in compile_("build")
    path = tmp_path / "specs" / "quality.mspec"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "thumbs = 'up'", "thumbs = 'down'", 1), encoding="utf-8")
    assert "only what changed since the last build" in compile_("build")
    compile_("uncached", "--no-cache")
    built = {p.relative_to(tmp_path / "build"): p.read_bytes()
             for p in (tmp_path / "build").rglob("*") if p.is_file()}
    expected = {p.relative_to(tmp_path / "uncached"): p.read_bytes()
                for p in (tmp_path / "uncached").rglob("*") if p.is_file()}
    assert built == expected and len(built) > 20


def test_a_lost_or_damaged_snapshot_is_built_in_full(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.build()
    for entry in (tmp_path / "cache" / "build").iterdir():  # the objects' entry among them
        entry.write_bytes(entry.read_bytes()[:-7])
    project.edit("monitors.mspec", "min_n 500", "min_n 400")
    assert not project.compare().incremental
    for entry in (tmp_path / "cache" / "build").iterdir():
        entry.unlink()
    project.edit("monitors.mspec", "min_n 400", "min_n 300")
    assert not project.compare().incremental
    project.edit("monitors.mspec", "min_n 300", "min_n 200")
    assert project.compare().incremental


def test_a_project_with_a_lock_file_builds_from_the_last_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Running experiments pinned in `metricspec.lock` are judged as a full build judges
    them: a pinned metric changed without a new version is an error (a full build), and
    another day, on which other experiments may be running, builds in full."""
    from typer.testing import CliRunner

    from metricspec.cli import app

    project = Project(tmp_path)
    monkeypatch.setenv("METRICSPEC_TODAY", "2026-10-07")  # summarizer_v2 running
    locked = CliRunner().invoke(app, ["lock", "--spec-dir", str(project.folder), "--no-cache"])
    assert locked.exit_code == 0, locked.output
    assert (tmp_path / "metricspec.lock").is_file()
    assert project.compare().ok
    project.edit("monitors.mspec", "min_n 500", "min_n 400")
    assert project.compare().incremental
    # csat is pinned by the running summarizer_v2: changed without a version, an error
    project.edit("quality.mspec", "count(feedback where thumbs = 'up')",
                 "count(feedback where thumbs = 'down')")
    found = project.compare()
    assert not found.incremental and "MS517" in {d.code for d in found.errors}
    project.edit("quality.mspec", "count(feedback where thumbs = 'down')",
                 "count(feedback where thumbs = 'up')")
    assert project.compare().incremental  # as the snapshot was left
    monkeypatch.setenv("METRICSPEC_TODAY", "2026-10-20")  # tone_tuning running instead
    project.edit("monitors.mspec", "min_n 400", "min_n 300")
    assert not project.compare().incremental
    project.edit("monitors.mspec", "min_n 300", "min_n 200")
    assert project.compare().incremental
