"""`check` read from the compile cache: a project loaded again with the same files, backends,
lock file and day gives the stored diagnostics without running a rule; anything `check`
reads that changed (a file's text, the backends, the lock file, the day a pinned experiment
is judged on) runs it again."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

import metricspec.check as check_module
from metricspec.backends import resolve_dialects
from metricspec.cache import Cache
from metricspec.workspace import Workspace

HERE = Path(__file__).parent
PINNED = HERE.parent / "spec" / "broken" / "pinned"

SPECS = """\
source events = table app.events { entity user_id; time ts; column amount: number }
metric revenue = sum(events.amount)
metric buyers = count_distinct(events.user_id, approximate)
"""


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times `check` ran."""
    ran: list[int] = []
    real = check_module.check

    def counted(*args: object, **kwargs: object) -> object:
        ran.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(check_module, "check", counted)  # as `check_cached` finds it
    return ran


def load(folder: Path, cache_dir: Path, **options: object) -> Workspace:
    return Workspace.load(folder, cache=Cache.open(cache_dir), **options)  # type: ignore[arg-type]


def test_the_same_project_is_not_checked_twice(tmp_path: Path, checks: list[int]) -> None:
    (tmp_path / "specs").mkdir()
    spec = tmp_path / "specs" / "a.mspec"
    spec.write_text(SPECS + "metric broken = revenue / unknown_metric\n", encoding="utf-8")
    first = load(tmp_path / "specs", tmp_path / "cache")
    assert [d.code for d in first.errors] == ["MS201"] and len(checks) == 1
    again = load(tmp_path / "specs", tmp_path / "cache")
    assert again.diagnostics == first.diagnostics and len(checks) == 1
    assert again.diagnostics == Workspace.load(tmp_path / "specs").diagnostics  # uncached
    checks.clear()
    # a changed text is checked again, and its own result is kept too
    spec.write_text(SPECS, encoding="utf-8")
    assert load(tmp_path / "specs", tmp_path / "cache").ok and len(checks) == 1
    assert load(tmp_path / "specs", tmp_path / "cache").ok and len(checks) == 1
    # going back reads the first result again
    spec.write_text(SPECS + "metric broken = revenue / unknown_metric\n", encoding="utf-8")
    assert load(tmp_path / "specs", tmp_path / "cache").diagnostics == first.diagnostics
    assert len(checks) == 1


def test_other_backends_are_checked_for_themselves(tmp_path: Path, checks: list[int]) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a.mspec").write_text(SPECS, encoding="utf-8")
    assert load(tmp_path / "specs", tmp_path / "cache").ok
    postgres = resolve_dialects(["postgres"])
    expected = Workspace.load(tmp_path / "specs", backends=postgres, compile_check=False)
    assert [d.code for d in expected.errors] == ["MS455"]  # no p90 there: a real difference
    checks.clear()
    for _ in range(2):
        found = load(tmp_path / "specs", tmp_path / "cache", backends=postgres,
                     compile_check=False)
        assert found.diagnostics == expected.diagnostics
    assert len(checks) == 1


def test_the_lock_file_and_the_day_it_is_judged_on_count(tmp_path: Path,
                                                         checks: list[int]) -> None:
    shutil.copytree(PINNED, tmp_path / "pinned")
    folder = tmp_path / "pinned"
    running = load(folder, tmp_path / "cache", today=dt.date(2026, 1, 1))
    assert "MS517" in [d.code for d in running.errors]
    ended = load(folder, tmp_path / "cache", today=dt.date(2100, 1, 1))
    assert "MS517" not in [d.code for d in ended.errors] and len(checks) == 2
    assert load(folder, tmp_path / "cache", today=dt.date(2026, 1, 1)).diagnostics == (
        running.diagnostics) and len(checks) == 2
    # the day is today's when none is given: stored under it, read back the same day
    today = load(folder, tmp_path / "cache")
    assert load(folder, tmp_path / "cache").diagnostics == today.diagnostics
    assert len(checks) == 3
    # a lock file that changed is read again
    (folder / "metricspec.lock").write_text("not json", encoding="utf-8")
    broken = load(folder, tmp_path / "cache", today=dt.date(2026, 1, 1))
    assert "MS519" in [d.code for d in broken.errors] and len(checks) == 4


def test_every_command_that_reads_specs_uses_the_cache(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       checks: list[int]) -> None:
    """`sql`, `plan`, `query`… read the parsed files and the check from the cache, as
    `check` and `compile` do, with the same output; `--no-cache` neither reads nor writes."""
    from typer.testing import CliRunner

    from metricspec.cache import FOLDER_NAME
    from metricspec.cli import app

    runner = CliRunner()
    shutil.copytree(HERE.parents[1] / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("METRICSPEC_NO_CACHE", raising=False)
    monkeypatch.delenv("METRICSPEC_CACHE_DIR", raising=False)
    commands = (["sql", "csat", "-d", "bigquery"], ["plan", "summarizer_v2"])
    for command in commands:
        uncached = runner.invoke(app, [*command, "--no-cache"])
        assert uncached.exit_code == 0, uncached.output
        assert not (tmp_path / FOLDER_NAME).exists()
    assert len(checks) == 2
    for command in commands:
        for _ in range(2):
            cached = runner.invoke(app, command)
            assert cached.exit_code == 0, cached.output
            assert cached.output == runner.invoke(app, [*command, "--no-cache"]).output
    assert len(checks) == 2 + 4 + 1  # every uncached run checks; of the cached, the first
    # the result, and the snapshot a check after a change starts from
    assert len(list((tmp_path / FOLDER_NAME / "check").iterdir())) == 2
    assert len(list((tmp_path / FOLDER_NAME / "parse").iterdir())) == len(
        list((tmp_path / "specs").rglob("*.mspec")) + list((tmp_path / "specs").rglob("*.yaml")))
