"""Builds that diff cleanly: spec files are recorded relative to the project root, so a build
made as `compile specs` and one made as `compile /abs/path/specs` from another folder are
byte for byte the same (SQL headers, manifest), and so are plans and docs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metricspec.cli import app

REPO = Path(__file__).parents[2]
runner = CliRunner()


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "specs", tmp_path / "repo" / "specs")
    (tmp_path / "elsewhere").mkdir()
    return tmp_path / "repo"


def test_compile_from_two_folders_is_byte_identical(checkout: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(checkout)
    cli("compile", "specs", "-d", "all", "-o", "build")
    monkeypatch.chdir(tmp_path / "elsewhere")
    cli("compile", str(checkout / "specs"), "-d", "all", "-o", str(tmp_path / "ci-build"))
    laptop, ci = tree(checkout / "build"), tree(tmp_path / "ci-build")
    assert laptop == ci and len(laptop) > 50
    header = laptop["duckdb/experiments/prompt_template_v3.sql"].decode()
    assert "-- from: specs/experiments/prompt_template_v3.yaml, specs/" in header
    assert str(tmp_path) not in "".join(v.decode() for v in laptop.values())


def test_plans_docs_and_sql_are_the_same_from_any_folder(checkout: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.chdir(checkout)
    plan = cli("plan", "prompt_template_v3", "-f", "json")
    sql = cli("sql", "csat")
    cli("docs", "-o", "site")
    monkeypatch.chdir(tmp_path / "elsewhere")
    specs = str(checkout / "specs")
    assert cli("plan", "prompt_template_v3", "-f", "json", "-s", specs) == plan
    assert cli("sql", "csat", "-s", specs) == sql
    cli("docs", "-s", specs, "-o", str(tmp_path / "site2"))
    assert tree(checkout / "site") == tree(tmp_path / "site2")
    assert "specs/quality.mspec" in sql


def test_compile_check_says_whether_the_build_is_up_to_date(checkout: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.chdir(checkout)

    def check() -> tuple[int, str]:
        result = runner.invoke(app, ["compile", "specs", "-d", "duckdb", "-d", "postgres",
                                     "--check"])
        return result.exit_code, result.stderr

    code, err = check()
    assert code == 1 and "stale" in err and "manifest.json" in err
    assert not (checkout / "build").exists()  # --check writes nothing
    cli("compile", "specs", "-d", "duckdb", "-d", "postgres")
    before = tree(checkout / "build")
    assert check() == (0, "")
    edited = checkout / "build" / "duckdb" / "experiments" / "summarizer_v2.sql"
    edited.write_text(edited.read_text() + "-- edited\n")
    (checkout / "build" / "postgres" / "metrics" / "old_metric.sql").write_text("SELECT 1\n")
    code, err = check()
    assert code == 1
    assert "build/duckdb/experiments/summarizer_v2.sql is not up to date" in err
    assert "build/postgres/metrics/old_metric.sql is not up to date" in err
    spec = checkout / "specs" / "quality.mspec"
    cli("compile", "specs", "-d", "duckdb", "-d", "postgres")
    assert tree(checkout / "build") == before
    spec.write_text(spec.read_text().replace("thumbs = 'up'", "thumbs = 'UP'", 1))
    code, err = check()
    assert code == 1 and "build/duckdb/metrics/feedback.sql is not up to date" in err
