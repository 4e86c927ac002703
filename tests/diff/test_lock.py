"""`metricspec.lock` and `metricspec lock`: started experiments pinned, never re-pinned
silently; `check` fails (MS517, at the experiment) when a running experiment's metric changes
meaning without a new version, and passes once the version is bumped."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from diff_history import build, git
from typer.testing import CliRunner

from metricspec import lockfile
from metricspec.cli import app
from metricspec.workspace import Workspace

RUNNING = dt.date(2026, 10, 20)  # `tone` runs (10-15 .. 10-28), `greeting` finished
runner = CliRunner()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The history's first version, checked out, with its experiments pinned."""
    root = build(tmp_path / "repo")
    git(root, "checkout", "-q", "base")
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["lock", "--today", RUNNING.isoformat()])
    assert result.exit_code == 0, result.output
    return root


def edit(repo: Path, file: str, old: str, new: str) -> None:
    path = repo / "specs" / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def errors(repo: Path, today: dt.date = RUNNING) -> list:
    return Workspace.load(repo / "specs", today=today).errors


def test_lock_pins_started_experiments_deterministically(repo: Path) -> None:
    text = (repo / "metricspec.lock").read_text(encoding="utf-8")
    lock = lockfile.loads(text)
    assert sorted(lock.experiments) == ["greeting", "tone"]
    tone = lock.experiments["tone"]
    assert tone.window_start == "2026-10-15T00:00:00"
    assert sorted(tone.metrics) == ["csat", "latency_p95"]
    ws = Workspace.load(repo / "specs")
    from metricspec.hashing import Hasher

    assert tone.metrics["csat"].hash == Hasher(ws.index).metric("csat")
    assert lock.dumps() == text  # read and written back: the same bytes
    assert json.loads(text)["experiments"] == dict(sorted(json.loads(text)[
        "experiments"].items()))
    # a second run pins nothing and leaves the file as it was
    result = runner.invoke(app, ["lock", "--today", RUNNING.isoformat()])
    assert result.exit_code == 0 and "nothing to pin" in result.output
    assert (repo / "metricspec.lock").read_text(encoding="utf-8") == text


def test_a_planned_experiment_is_not_pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    root = build(tmp_path / "repo")
    monkeypatch.chdir(root)
    result = runner.invoke(app, ["lock", "--today", "2026-09-05"])
    assert result.exit_code == 0, result.output
    assert sorted(lockfile.read(root / "metricspec.lock").experiments) == ["greeting"]


def test_changing_a_pinned_metric_fails_check_at_the_experiment(repo: Path) -> None:
    assert errors(repo) == []
    edit(repo, "metrics.mspec", "count(feedback where thumbs = 'up')",
         "count(feedback where thumbs = 'up' and channel <> 'test')")
    found = errors(repo)
    assert [d.code for d in found] == ["MS517"]
    d = found[0]
    assert (Path(d.span.file).name, d.span.line, d.span.column) == ("experiments.mspec", 1, 12)
    assert "`tone`" in d.message and "`csat`" in d.message
    assert "its own definition changed (expr.left.filter.sql)" in d.message
    assert d.notes and "metrics.mspec:1:8: metric `csat`" in d.notes[0]
    # the finished experiment's metrics may change: only running experiments are held
    assert errors(repo, dt.date(2026, 11, 30)) == []
    # the command line judges "today" by METRICSPEC_TODAY
    result = runner.invoke(app, ["check", "specs"], env={"METRICSPEC_TODAY": "2026-10-20"})
    assert result.exit_code == 1 and "MS517" in result.output


def test_a_change_through_a_source_is_named(repo: Path) -> None:
    edit(repo, "sources.mspec", "table support.messages", "table support.messages_v2")
    found = errors(repo)
    assert [d.code for d in found] == ["MS517"]  # latency_p95 of the running `tone`
    assert "`latency_p95`" in found[0].message
    assert "through source `messages`" in found[0].message


def test_bumping_the_version_passes_and_update_records_it(repo: Path) -> None:
    edit(repo, "metrics.mspec", "count(feedback where thumbs = 'up')",
         "count(feedback where thumbs = 'up' and channel <> 'test')")
    refused = runner.invoke(app, ["lock", "--update", "tone", "--reason", "tighten"])
    assert refused.exit_code == 1 and "without a new version" in refused.output
    edit(repo, "metrics.mspec", "format percent; direction up",
         "format percent; direction up; version 2")
    assert errors(repo) == []
    before = lockfile.read(repo / "metricspec.lock").experiments["tone"]
    result = runner.invoke(app, ["lock", "--update", "tone", "--reason", "exclude test"])
    assert result.exit_code == 0, result.output
    after = lockfile.read(repo / "metricspec.lock").experiments["tone"]
    assert after.metrics["csat"].version == 2
    assert after.metrics["csat"].hash != before.metrics["csat"].hash
    assert after.metrics["latency_p95"] == before.metrics["latency_p95"]
    assert after.pinned_at == before.pinned_at and after.hash != before.hash
    assert [(u["metric"], u["version"], u["reason"]) for u in after.updates] == [
        ("csat", 2, "exclude test")]
    assert errors(repo) == []


def test_the_version_is_read_in_both_front_ends(tmp_path: Path) -> None:
    (tmp_path / "a.mspec").write_text(
        "source ev = table app.ev { entity user_id; time ts; column amount: number }\n"
        "metric rev = sum(ev.amount) { version 3 }\nmetric plain = count(ev)\n",
        encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        "metrics:\n  rev_y:\n    expr: sum(ev.amount)\n    version: 3\n", encoding="utf-8")
    ws = Workspace.load(tmp_path)
    assert ws.ok, ws.render()
    versions = {m.name: m.version for m in ws.project.metrics}
    assert versions == {"rev": 3, "plain": 1, "rev_y": 3}
    from metricspec.hashing import Hasher

    (tmp_path / "b.yaml").unlink()  # the version is part of the identity
    text = (tmp_path / "a.mspec").read_text(encoding="utf-8")
    hashes = []
    for version in (" { version 3 }", " { version 1 }", ""):
        (tmp_path / "a.mspec").write_text(text.replace(" { version 3 }", version),
                                          encoding="utf-8")
        hashes.append(Hasher(Workspace.load(tmp_path).index).metric("rev"))
    assert hashes[0] != hashes[1] == hashes[2]


def test_an_unreadable_lock_is_reported(repo: Path) -> None:
    (repo / "metricspec.lock").write_text("{not json", encoding="utf-8")
    assert [d.code for d in errors(repo)] == ["MS519"]
    result = runner.invoke(app, ["lock"])
    assert result.exit_code == 1


def test_today_is_read_in_the_project_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Which experiments run "today" is judged on the project's calendar, not the machine's:
    Kiritimati (UTC+14) and Pago Pago (UTC-11) are 25 hours apart, so their dates always
    differ by one or two days, whatever the machine's zone and hour."""
    from metricspec import ir
    from metricspec.check.pinned import today_or_override
    from metricspec.cli.common import local_time

    monkeypatch.delenv("METRICSPEC_TODAY", raising=False)
    east, west = today_or_override("Pacific/Kiritimati"), today_or_override("Pacific/Pago_Pago")
    assert (east - west).days in (1, 2)
    calendars = [ir.Calendar.model_construct(timezone=z)
                 for z in ("Pacific/Kiritimati", "Pacific/Pago_Pago")]
    assert (local_time(calendars[0]).date() - local_time(calendars[1]).date()).days in (1, 2)
    monkeypatch.setenv("METRICSPEC_TODAY", "2026-10-20")
    assert today_or_override("Pacific/Kiritimati") == dt.date(2026, 10, 20)


def test_lock_with_an_unknown_zone_reports_it(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The zone is read only after check judged it: MS440, not a traceback."""
    (tmp_path / "project.mspec").write_text('calendar { timezone "Mars/Olympus" }\n',
                                            encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["lock", "--spec-dir", "."])
    assert result.exit_code == 1, result.output
    assert "MS440" in result.output and isinstance(result.exception, SystemExit)
