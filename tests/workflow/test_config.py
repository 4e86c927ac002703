"""The project configuration: found by walking up, validated with positions, and below the
command line and the environment in precedence; the global --quiet/--verbose options and
shell completion."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metricspec.cli import app
from metricspec.config import ConfigError, find_config, load_config

REPO = Path(__file__).parents[2]
SPECS = REPO / "specs"
runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project whose specs live in `defs/` (not the default `specs/`), cwd inside it."""
    shutil.copytree(SPECS, tmp_path / "defs")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    monkeypatch.delenv("METRICSPEC_WAREHOUSE", raising=False)
    monkeypatch.delenv("METRICSPEC_CONFIG", raising=False)
    yield tmp_path


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def test_found_walking_up_and_paths_are_relative_to_its_folder(project: Path) -> None:
    (project / "metricspec.toml").write_text('specs = ["defs"]\n')
    assert find_config() == project / "metricspec.toml"
    config = load_config()
    assert config.specs == (project / "defs",) and config.root == project
    code, out, _ = cli("check")  # from sub/: no specs/ here, the file says defs/
    assert code == 0 and "ok:" in out


def test_pyproject_tool_table(project: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.metricspec]\n'
                                            'specs = ["defs"]\nout = "generated"\n')
    code, out, _ = cli("compile")
    assert code == 0, out
    assert (project / "generated" / "manifest.json").is_file()


def test_a_pyproject_without_the_table_is_not_a_configuration(project: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config() is None


@pytest.mark.parametrize(("text", "where", "message"), [
    ('specs = ["defs"]\nspecz = ["x"]\n', ":2:9: error[MS920]", "unknown key `specz`"),
    ('dialects = "duckdb"\n', ":1:12: error[MS920]", "`dialects`: input should be a valid list"),
    ('specs = ["defs"\n', ":1:16: error[MS920]", "not valid TOML: unclosed array"),
    ('out = "x"\nout = "y"\n', ":2:", "not valid TOML"),
    ('warehouse = "postgresql://u:${NOT_SET_H2}@db/x"\n', ":1:13: error[MS921]",
     "environment variable `NOT_SET_H2` is not set"),
])
def test_errors_point_into_the_file(project: Path, text: str, where: str, message: str) -> None:
    (project / "metricspec.toml").write_text(text)
    code, out, err = cli("check")
    assert code == 2
    assert f"metricspec.toml{where}" in err and message in err, err
    assert "Traceback" not in out + err


def test_pyproject_errors_point_at_the_key_inside_the_tool_table(project: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "x"\nstrict = "yes"\n\n'
                                            '[tool.metricspec]\nstrict = "maybe"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(project / "pyproject.toml")
    [problem] = caught.value.diagnostics
    assert (problem.span.line, problem.span.column) == (6, 10)


def test_environment_variables_are_interpolated_and_never_shown(project: Path) -> None:
    (project / "metricspec.toml").write_text(
        'specs = ["defs"]\nwarehouse = "duckdb:///${H2_DB}"\n')
    config = load_config(environ={"H2_DB": "/data/w.duckdb"})
    assert config.warehouse == "duckdb:////data/w.duckdb"


def warehouse_named(err: str) -> str:
    assert "MS903" in err, err
    return err


def test_precedence_flag_over_environment_over_file_over_default(project: Path) -> None:
    (project / "metricspec.toml").write_text(
        'specs = ["defs"]\nwarehouse = "duckdb:///from-file.duckdb"\n')
    _, _, err = cli("query", "csat")
    assert "from-file.duckdb" in warehouse_named(err)
    _, _, err = cli("query", "csat", env={"METRICSPEC_WAREHOUSE": "duckdb:///from-env.duckdb"})
    assert "from-env.duckdb" in warehouse_named(err)
    _, _, err = cli("query", "csat", "-w", "duckdb:///from-flag.duckdb",
                    env={"METRICSPEC_WAREHOUSE": "duckdb:///from-env.duckdb"})
    assert "from-flag.duckdb" in warehouse_named(err)
    (project / "metricspec.toml").write_text('specs = ["defs"]\n')
    _, _, err = cli("query", "csat")
    assert "metricspec.duckdb" in warehouse_named(err)  # the built-in default


def test_spec_paths_the_same_way_on_every_command(project: Path) -> None:
    (project / "metricspec.toml").write_text('specs = ["nowhere"]\n')
    defs = str(project / "defs")
    for args in (["check", defs], ["check", "--spec-dir", defs], ["compile", "-s", defs],
                 ["compile", defs], ["sql", "csat", "-s", defs], ["docs", "-s", defs],
                 ["docs", defs, "-o", str(project / "site2")]):
        code, out, err = cli(*args)
        assert code == 0, (args, out, err)
    code, _, err = cli("check")  # the file's (missing) folder is the default
    assert code == 2 and "nowhere" in err


def test_site_strict_and_dialects_from_the_file(project: Path) -> None:
    (project / "metricspec.toml").write_text('specs = ["defs"]\nsite = "catalog"\n'
                                             'strict = true\ndialects = ["bigquery"]\n')
    code, out, _ = cli("docs")
    assert code == 0 and (project / "catalog" / "index.html").is_file(), out
    # BigQuery computes percentiles approximately: a warning (MS701), which strict fails on
    code, out, _ = cli("check")
    assert code == 1 and "warning[MS701]" in out and "failed" in out
    code, out, _ = cli("check", "--no-strict")
    assert code == 0 and "warning[MS701]" in out
    code, out, _ = cli("check", "-d", "duckdb")  # the flag replaces the file's dialects
    assert code == 0 and "MS701" not in out


def test_explicit_config_option(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text(f'specs = ["{(project / "defs").as_posix()}"]\ndialects = ["postgres"]\n')
    code, out, _ = cli("--config", str(other), "compile", "--out", str(project / "b"))
    assert code == 0, out
    assert [p.name for p in (project / "b").iterdir() if p.is_dir()] == ["postgres"]
    code, out, _ = cli("compile", "--config", str(other), "-o", str(project / "c"), "-d",
                       "duckdb")  # the flag beats the file
    assert code == 0 and [p.name for p in (project / "c").iterdir() if p.is_dir()] == ["duckdb"]


def test_quiet_prints_errors_only(project: Path) -> None:
    defs = str(project / "defs")
    code, out, _ = cli("check", defs, "-q")
    assert code == 0 and out == ""
    code, out, _ = cli("-q", "compile", defs, "-o", str(project / "b"))
    assert code == 0 and out == ""
    code, out, _ = cli("--quiet", "check", str(REPO / "tests/spec/broken/kpi_tree.mspec"))
    assert code == 1 and "error[" in out and "warning[" not in out and "failed" not in out
    code, out, _ = cli("check", str(REPO / "tests/spec/broken/kpi_tree.mspec"))
    assert "warning[" in out and "failed" in out


def test_verbose_shows_the_configuration_and_the_queries(project: Path,
                                                         small_warehouse: Path) -> None:
    (project / "metricspec.toml").write_text('specs = ["defs"]\n')
    code, _, err = cli("query", "csat", "-v", "-w", f"duckdb:///{small_warehouse}")
    assert code == 0, err
    assert "configuration: " in err and "metricspec.toml" in err
    assert "SELECT" in err and "metricspec.run:" in err
    code, out, err = cli("compile", "-v", "-o", str(project / "b"))
    assert code == 0 and "compiled" in out
    assert re.search(r"\[ *\d+\.\d\d s\] compiled \d+ queries \(\d+\.\d\d s\)", err), err
    code, _, err = cli("-q", "-v", "check")
    assert code == 2 and "exclude each other" in err


def test_global_options_after_the_separator_are_not_moved(project: Path) -> None:
    code, _, err = cli("sql", "-s", str(project / "defs"), "--", "-q")
    assert code == 2 and "unknown metric or experiment or monitor or guardrail or kpi `-q`" in err


def test_shell_completion() -> None:
    """`--show-completion bash` prints the bash script, whatever shell runs the tests.

    Typer's `--show-completion` is a flag that asks shellingham for the nearest shell among
    the *parent processes* and ignores a shell named after it: under `sh -c` (a Makefile, a
    CI step, `subprocess.run(..., shell=True)`) it printed "Shell sh not supported." and
    exited 1, and with no shell above it "Shell  not supported.". Typer's switch for tests
    makes the option take the shell as its value instead, so the test says which one."""
    env = {**os.environ, "PYTHONPATH": str(REPO),
           "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    shown = subprocess.run([sys.executable, "-m", "metricspec", "--show-completion", "bash"],
                           capture_output=True, text=True, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "_METRICSPEC_COMPLETE=complete_bash" in shown.stdout
    done = subprocess.run([sys.executable, "-m", "metricspec"], capture_output=True, text=True,
                          env={**env, "_METRICSPEC_COMPLETE": "complete_bash",
                               "COMP_WORDS": "metricspec com", "COMP_CWORD": "1"}, check=True)
    assert done.stdout.split() == ["compile"]
