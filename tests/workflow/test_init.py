"""`metricspec init` in an empty folder, then the commands its README gives, run there as a
user would (the `metricspec` program, a fresh process each); the CI workflow it writes names
real commands and options; the pre-commit hooks (the project's and the repository's
`.pre-commit-hooks.yaml`) run with pre-commit on a temporary git repository."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from metricspec.cli import app, scaffold

REPO = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


def environment() -> dict[str, str]:
    """The `metricspec` program of this environment, importing this checkout's code."""
    return {**os.environ, "PYTHONPATH": str(REPO), "PATH": f"{BIN}{os.pathsep}"
            f"{os.environ.get('PATH', '')}", "METRICSPEC_WAREHOUSE": "", "COLUMNS": "120"}


def sh(command: str, cwd: Path, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    env = environment()
    env.pop("METRICSPEC_WAREHOUSE")
    done = subprocess.run(shlex.split(command), cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode in ok, (command, done.stdout[-3000:], done.stderr[-3000:])
    return done


def readme_commands(text: str) -> list[str]:
    block = re.search(r"```console\n(.*?)```", text, re.DOTALL)
    assert block
    return [line[2:].split("  #")[0].strip() for line in block.group(1).splitlines()
            if line.startswith("$ ")]


@pytest.mark.slow
def test_init_then_the_readme_commands(tmp_path: Path) -> None:
    project = tmp_path / "metrics"
    sh(f"metricspec init {project}", tmp_path)
    commands = readme_commands((project / "README.md").read_text())
    assert [c.split()[1] for c in commands] == ["check", "compile", "demo", "query", "run"]
    for command in commands:
        if command.startswith("metricspec demo"):
            command += " --scale 0.05"  # the same demo, smaller, to keep the test quick
        done = sh(command, project)
        assert "Traceback" not in done.stderr
    assert (project / "build" / "manifest.json").is_file()
    assert (project / "metricspec.duckdb").is_file()  # the configured warehouse, built
    assert "summarizer_v2" in done.stdout  # `run`'s report


def test_init_writes_a_project_that_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["init", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(tmp_path / "p").as_posix()
                     for p in (tmp_path / "p").rglob("*") if p.is_file())
    assert "metricspec.toml" in written and ".github/workflows/metricspec.yml" in written
    assert len([w for w in written if w.startswith("specs/")]) == len(scaffold.EXAMPLE_SPECS)
    monkeypatch.chdir(tmp_path / "p")
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0 and "0 error(s), 0 warning(s)" in result.stdout
    assert (tmp_path / "p/specs/operations.yaml").read_text().startswith(
        "# yaml-language-server: $schema=../schema/metricspec.schema.json\n")


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "quality.mspec").write_text("mine")
    result = CliRunner().invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert "error[MS911]" in result.stderr and "specs/quality.mspec" in result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["quality.mspec", "specs"]
    assert (tmp_path / "specs" / "quality.mspec").read_text() == "mine"


def workflow_commands(workflow: dict[str, Any]) -> list[list[str]]:
    found = []
    for step in workflow["jobs"]["specs"]["steps"]:
        for line in str(step.get("run", "")).splitlines():
            line = line.split(">")[0].strip()
            if line.startswith("metricspec "):
                found.append(shlex.split(line)[1:])
    return found


def test_the_workflow_parses_and_names_real_commands_and_options() -> None:
    workflow = YAML(typ="safe").load(scaffold.WORKFLOW)
    assert workflow["on"]["pull_request"]["paths"] == ["specs/**", "metricspec.toml"]
    commands = workflow_commands(workflow)
    assert [c[0] for c in commands] == ["check", "compile", "diff", "diff"]
    import typer.main

    group = typer.main.get_command(app)
    for args in commands:
        command = group.commands[args[0]]  # type: ignore[attr-defined]
        options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        options |= {"--quiet", "-q", "--verbose", "-v"}
        for arg in args[1:]:
            if arg.startswith("-"):
                assert arg in options, (args, arg)


def test_docs_ci_shows_the_workflow_init_writes() -> None:
    assert scaffold.WORKFLOW in (REPO / "docs" / "ci.md").read_text()


@pytest.fixture
def git_project(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = tmp_path / "repo"
    sh(f"metricspec init {project}", tmp_path)
    for command in ("git init -q", "git config user.email t@example.com",
                    "git config user.name test", "git add -A", "git commit -qm init"):
        sh(command, project)
    return project


def pre_commit(project: Path, ok: tuple[int, ...] = (0,)) -> str:
    done = sh(f"{sys.executable} -m pre_commit run --all-files --color never", project, ok)
    return done.stdout + done.stderr


@pytest.mark.slow
def test_the_projects_pre_commit_hooks_run(git_project: Path) -> None:
    output = pre_commit(git_project)
    assert re.search(r"metricspec check\.+Passed", output), output
    assert re.search(r"metricspec compile\.+Passed", output), output
    spec = git_project / "specs" / "quality.mspec"
    spec.write_text(spec.read_text().replace("count(feedback where", "count(feedbak where", 1))
    output = pre_commit(git_project, ok=(1,))
    assert re.search(r"metricspec check\.+Failed", output)
    assert "specs/quality.mspec:3:" in output and "error[MS202]" in output


@pytest.mark.slow
def test_the_repositorys_hook_definitions_run(git_project: Path) -> None:
    """`.pre-commit-hooks.yaml` as pre-commit reads it, run as local hooks (`language:
    system`, the environment's metricspec) so that no network is needed."""
    hooks = YAML(typ="safe").load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["metricspec-check", "metricspec-compile",
                                        "metricspec-compile-check"]
    local = [{**hook, "language": "system"} for hook in hooks]
    config = git_project / ".pre-commit-config.yaml"
    yaml = YAML()
    with config.open("w") as handle:
        yaml.dump({"repos": [{"repo": "local", "hooks": local}]}, handle)
    output = pre_commit(git_project)
    assert re.search(r"metricspec check\.+Passed", output), output
    assert re.search(r"metricspec compile --check\.+Passed", output), output  # after compile
    (git_project / "metricspec.toml").write_text('specs = ["specs"]\ndialect = "duckdb"\n')
    output = pre_commit(git_project, ok=(1,))
    assert "metricspec.toml:2:11: error[MS920]: unknown key `dialect`" in output
