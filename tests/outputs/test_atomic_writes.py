"""Every file metricspec writes is written atomically, and a file that cannot be written is
`error[MS910]: cannot write PATH: reason` with exit status 3 — never a traceback, never a
report printed and then a failure, never a manifest that describes other files."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from outputs_helpers import Project, cli, tree

from metricspec import outputs
from metricspec.backends import get_backend
from metricspec.outputs import OutputError, write_text
from metricspec.pipeline import Compiled, CompileError, compile_all, write_all
from metricspec.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"


def assert_write_error(status: int, stdout: str, stderr: str, path: Path | str) -> None:
    assert status == 3, stdout + stderr
    assert "error[MS910]: cannot write" in stderr, stderr
    assert str(path) in stderr.replace("\n", ""), stderr


# ---------------------------------------------------------------- unwritable places


@pytest.fixture()
def blocked(tmp_path: Path) -> Path:
    """A regular file where a folder should be: every path under it is unwritable."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder\n", encoding="utf-8")
    return blocker


@pytest.fixture(scope="module")
def stats_file(hostile: Project, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stats") / "stats.csv"
    status, _, _ = cli("run", "hostile_exp", "--spec-dir", hostile.specs, "--warehouse",
                       hostile.url, "--save-stats", path, "--format", "json")
    assert status == 0 and path.is_file()
    return path


COMMANDS: dict[str, Callable[[Project, Path, Path], list[object]]] = {
    "compile": lambda h, out, stats: ["compile", h.specs, "--out", out],
    "docs": lambda h, out, stats: ["docs", "--spec-dir", h.specs, "--out", out],
    "plan": lambda h, out, stats: ["plan", "hostile_exp", "--spec-dir", h.specs, "--out", out],
    "plan-json": lambda h, out, stats: ["plan", "hostile_exp", "--spec-dir", h.specs,
                                        "--format", "json", "--out", out],
    "run-html": lambda h, out, stats: ["run", "hostile_exp", "--spec-dir", h.specs,
                                       "--warehouse", h.url, "--html", out],
    "run-json-html": lambda h, out, stats: ["run", "hostile_exp", "--spec-dir", h.specs,
                                            "--warehouse", h.url, "--format", "json",
                                            "--html", out],
    "run-save-stats": lambda h, out, stats: ["run", "hostile_exp", "--spec-dir", h.specs,
                                             "--warehouse", h.url, "--save-stats", out],
    "analyze-html": lambda h, out, stats: ["analyze", "hostile_exp", "--spec-dir", h.specs,
                                           "--stats", stats, "--html", out],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_path_under_a_file_is_an_output_error(command: str, hostile: Project,
                                                 stats_file: Path, blocked: Path) -> None:
    target = blocked / "sub" / "out.x"
    status, stdout, stderr = cli(*COMMANDS[command](hostile, target, stats_file))
    assert_write_error(status, stdout, stderr, target)
    assert "blocker is a file, not a folder" in stderr.replace("\n", "")
    assert stdout == "", "nothing is printed before the output error (checked first)"


@pytest.mark.parametrize("command", ["plan", "run-html", "run-save-stats", "analyze-html"])
def test_a_folder_where_the_file_should_be_is_an_output_error(
        command: str, hostile: Project, stats_file: Path, tmp_path: Path) -> None:
    status, stdout, stderr = cli(*COMMANDS[command](hostile, tmp_path, stats_file))
    assert_write_error(status, stdout, stderr, tmp_path)
    assert "it is a folder" in stderr


def test_demo_checks_its_reports_folder_before_building(blocked: Path, tmp_path: Path) -> None:
    database = tmp_path / "demo.duckdb"
    status, stdout, stderr = cli("demo", "--spec-dir", SPECS, "--database", database,
                                 "--reports", blocked / "reports", "--scale", "0.01")
    assert_write_error(status, stdout, stderr, blocked / "reports")
    assert not database.exists(), "the warehouse was built before the output was checked"


@pytest.mark.parametrize("command", ["compile", "docs", "plan"])
def test_proc_is_not_writable(command: str, hostile: Project, stats_file: Path) -> None:
    target = Path("/proc/metricspec-output/x")
    status, stdout, stderr = cli(*COMMANDS[command](hostile, target, stats_file))
    assert_write_error(status, stdout, stderr, "/proc/metricspec-output")


@pytest.fixture()
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder nothing can be created in: permissions for a normal user, the immutable
    attribute for root (who ignores permissions); skipped where neither works."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)],
                                        capture_output=True).returncode != 0:
        pytest.skip("cannot make a read-only folder here")
    try:
        yield folder
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


@pytest.mark.parametrize("command", ["compile", "docs", "plan", "run-html"])
def test_a_read_only_folder_is_an_output_error(command: str, hostile: Project,
                                               stats_file: Path, read_only: Path) -> None:
    target = read_only / "out"
    status, stdout, stderr = cli(*COMMANDS[command](hostile, target, stats_file))
    assert_write_error(status, stdout, stderr, target)
    assert list(read_only.iterdir()) == []


# ---------------------------------------------------------------- a full disk


@pytest.fixture()
def full_disk(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """After `budget` successful writes, every write fails with ENOSPC."""

    def arm(budget: int) -> None:
        real = outputs._write_all
        calls = {"n": 0}

        def write(fd: int, data: bytes) -> None:
            calls["n"] += 1
            if calls["n"] > budget:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real(fd, data)

        monkeypatch.setattr(outputs, "_write_all", write)

    return arm


def test_compile_on_a_full_disk_keeps_old_files_and_drops_the_manifest(
        tmp_path: Path, full_disk: Callable[[int], None]) -> None:
    out = tmp_path / "build"
    assert cli("compile", SPECS, "--out", out)[0] == 0
    old = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert out / "manifest.json" in old
    # A change that rewrites every file, then a disk that fills after three of them.
    for path in out.rglob("*.sql"):
        path.write_text("-- edited by hand\n", encoding="utf-8")
    edited = {p: p.read_bytes() for p in out.rglob("*.sql")}
    full_disk(3)
    status, stdout, stderr = cli("compile", SPECS, "--out", out)
    assert_write_error(status, stdout, stderr, out)
    assert "no space left on device" in stderr
    assert not (out / "manifest.json").exists(), "a manifest describing other files remains"
    for path, content in edited.items():  # each file is the old one or the new one, whole
        assert path.read_bytes() in (content, old[path])
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_run_html_on_a_full_disk_prints_no_report(hostile: Project, tmp_path: Path,
                                                  full_disk: Callable[[int], None]) -> None:
    full_disk(0)
    target = tmp_path / "report.html"
    status, stdout, stderr = cli("run", "hostile_exp", "--spec-dir", hostile.specs,
                                 "--warehouse", hostile.url, "--html", target)
    assert_write_error(status, stdout, stderr, target)
    assert stdout == "" and not target.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform != "linux", reason="mounts a tmpfs")
def test_compile_on_a_really_full_disk(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        status, stdout, stderr = cli("compile", SPECS, "--out", disk / "build")
        assert_write_error(status, stdout, stderr, disk / "build")
        assert not (disk / "build" / "manifest.json").exists()
        assert not [p for p in disk.rglob("*") if p.name.endswith(".tmp")]
    finally:
        subprocess.run(["umount", str(disk)], check=True)


# ---------------------------------------------------------------- atomic replacement


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path: Path,
                                                       full_disk: Callable[[int], None]) -> None:
    target = tmp_path / "plan.md"
    write_text(target, "old plan\n")
    target.chmod(0o640)
    full_disk(0)
    with pytest.raises(OutputError, match="no space left"):
        write_text(target, "new plan\n" * 1000)
    assert target.read_text(encoding="utf-8") == "old plan\n"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.md"]


def test_replacing_keeps_permissions_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


# ---------------------------------------------------------------- the manifest


def _manifest_matches(out: Path, backends: tuple[str, ...]) -> None:
    """Every file the manifest lists is there with its hash; the compiled backends' folders
    hold nothing else."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    files = {str(p.relative_to(out)) for b in backends for p in (out / b).rglob("*.sql")}
    assert set(manifest["files"]) == files
    for relative, digest in manifest["files"].items():
        assert hashlib.sha256((out / relative).read_bytes()).hexdigest() == digest


@pytest.mark.slow
def test_the_manifest_describes_exactly_the_files_beside_it(tmp_path: Path) -> None:
    out = tmp_path / "build"
    assert cli("compile", SPECS, "--out", out, "--dialect", "duckdb,postgres",
               "--per-metric")[0] == 0
    _manifest_matches(out, ("duckdb", "postgres"))
    (out / "duckdb" / "metrics" / "renamed_long_ago.sql").write_text("-- stale\n")
    assert cli("compile", SPECS, "--out", out)[0] == 0  # fewer files: stale ones removed
    _manifest_matches(out, ("duckdb",))
    assert not (out / "duckdb" / "metrics" / "renamed_long_ago.sql").exists()


def test_a_compile_with_failures_writes_no_manifest(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "build"
    assert cli("compile", SPECS, "--out", out)[0] == 0
    import metricspec.rebuild as rebuild

    real = rebuild.build

    def failing(*args: object, **kwargs: object) -> object:
        done = real(*args, **kwargs)  # type: ignore[arg-type]
        first = done.compiled[0].name
        done.compiled = done.compiled[1:]
        done.failed = [CompileError("experiment", first, "duckdb", "boom")]
        return done

    monkeypatch.setattr(rebuild, "build", failing)
    status, _, stderr = cli("compile", SPECS, "--out", out)
    assert status == 1 and "boom" in stderr
    assert not (out / "manifest.json").exists()


def test_write_all_refuses_nothing_but_writes_no_manifest_when_incomplete(
        tmp_path: Path) -> None:
    query = Compiled("metric", "m", get_backend("duckdb"), None, "SELECT 1\n")
    write_all([query], tmp_path)
    assert (tmp_path / "manifest.json").exists()
    write_all([query], tmp_path, complete=False)
    assert not (tmp_path / "manifest.json").exists()
    assert (tmp_path / "duckdb" / "metrics" / "m.sql").read_text() == "SELECT 1\n"


# ---------------------------------------------------------------- compile in worker processes


@pytest.mark.slow
def test_forked_workers_return_the_callers_backends() -> None:
    ws = Workspace.load(SPECS)
    # three dialects: enough tasks (48) for compile_all to use worker processes
    backends = [get_backend(name) for name in ("duckdb", "postgres", "spark")]
    one, failed_one = compile_all(ws.index, backends, workers=1)
    many, failed_many = compile_all(ws.index, backends, workers=2)
    assert not failed_one and not failed_many
    assert [(q.path, q.sql) for q in one] == [(q.path, q.sql) for q in many]
    assert all(any(q.backend is b for b in backends) for q in many)


@pytest.mark.slow
def test_compile_prints_the_real_count_per_dialect(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # worker processes, even on one core
    dialects = ("duckdb", "postgres", "spark")  # 48 tasks: compiled by worker processes
    status, stdout, _ = cli("compile", SPECS, "--out", tmp_path / "b", "--dialect",
                            ",".join(dialects))
    assert status == 0
    counts = {b: len(list((tmp_path / "b" / b).rglob("*.sql"))) for b in dialects}
    for backend, count in counts.items():
        assert count > 0 and f"{backend}: {count}" in stdout, stdout
    assert f"compiled {sum(counts.values())} queries" in stdout


@pytest.mark.slow
def test_nothing_is_written_outside_the_output_folder(tmp_path: Path) -> None:
    before = tree(tmp_path)
    assert cli("compile", SPECS, "--out", tmp_path / "build", "--dialect", "duckdb,spark")[0] == 0
    assert cli("docs", "--spec-dir", SPECS, "--out", tmp_path / "site")[0] == 0
    assert all(p.split(os.sep)[0] in ("build", "site") for p in tree(tmp_path) - before)


def test_a_fifo_or_folder_in_place_of_an_output_file_does_not_hang(tmp_path: Path) -> None:
    query = Compiled("metric", "m", get_backend("duckdb"), None, "SELECT 1\n")
    target = tmp_path / "duckdb" / "metrics" / "m.sql"
    target.parent.mkdir(parents=True)
    os.mkfifo(target)
    write_all([query], tmp_path)  # replaced, not read
    assert target.read_text(encoding="utf-8") == "SELECT 1\n"
    target.unlink()
    target.mkdir()
    with pytest.raises(OutputError, match="it is a folder"):
        write_all([query], tmp_path)
