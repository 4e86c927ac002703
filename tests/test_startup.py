"""The commands a pre-commit hook or an editor runs start fast: `metricspec --version` and
`metricspec check` import none of the heavy packages (the statistics engine's SciPy and
NumPy, DuckDB, jinja2, PyArrow), and `compile` none but what SQL needs. Times are measured
by `benchmarks/startup.py` (docs/benchmarks.md); this test asserts the import sets, which do
not depend on the machine.

Each command runs in a fresh interpreter as `python -m metricspec …` does; the modules it
imported are read from `sys.modules` at exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = frozenset({"scipy", "numpy", "duckdb", "jinja2", "pyarrow"})
PROBE = """
import atexit, json, os, runpy, sys

def dump():
    with open(os.environ["PROBE_OUT"], "w", encoding="utf-8") as fh:
        json.dump(sorted(sys.modules), fh)

atexit.register(dump)
sys.argv = ["metricspec", *json.loads(os.environ["PROBE_ARGS"])]
runpy.run_module("metricspec", run_name="__main__", alter_sys=True)
"""


def imported(args: list[str], tmp_path: Path,
             extra: dict[str, str] | None = None) -> tuple[int, set[str]]:
    """Exit status and top-level packages imported by `metricspec ARGS` in a new process
    (uncached, as every test runs, unless `extra` names a cache folder)."""
    out = tmp_path / "modules.json"
    env = {**os.environ, "PROBE_OUT": str(out), "PROBE_ARGS": json.dumps(args)}
    if extra:
        env.pop("METRICSPEC_NO_CACHE", None)
        env.update(extra)
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    modules = json.loads(out.read_text(encoding="utf-8"))
    return done.returncode, {name.split(".")[0] for name in modules}


@pytest.mark.parametrize("args", [["--version"], ["check", "specs"],
                                  ["check", "specs", "--format", "json"]],
                         ids=["version", "check", "check-json"])
def test_fast_commands_import_no_heavy_package(args: list[str], tmp_path: Path) -> None:
    status, packages = imported(args, tmp_path)
    assert status == 0
    assert not packages & HEAVY, f"`metricspec {' '.join(args)}` imported {packages & HEAVY}"


def test_compile_imports_sql_but_not_the_statistics_engine(tmp_path: Path) -> None:
    status, packages = imported(["compile", "specs", "--dialect", "duckdb", "--out",
                                 str(tmp_path / "build")], tmp_path)
    assert status == 0
    assert "sqlglot" in packages  # the probe sees what a command imports
    assert not packages & HEAVY, f"`metricspec compile` imported {packages & HEAVY}"


def test_emitted_long_format_columns_are_the_readers() -> None:
    """The SQL writes the long format's columns from its own list (so compiling imports no
    statistics engine); it is the list the statistics engine reads."""
    from metricspec.emit.experiment_stats import LONG_COLUMNS
    from metricspec.stats.longformat import COLUMNS

    assert LONG_COLUMNS == COLUMNS


def test_a_project_without_yaml_files_imports_no_yaml_reader(tmp_path: Path) -> None:
    project = tmp_path / "specs"
    project.mkdir()
    (project / "sources.mspec").write_text((REPO / "specs" / "sources.mspec").read_text())
    status, packages = imported(["check", str(project)], tmp_path)
    assert status == 0
    assert "lark" in packages  # the probe sees the DSL front end
    assert not packages & {"ruamel", "yaml"}, packages & {"ruamel", "yaml"}


def test_a_check_read_from_the_cache_imports_no_front_end(tmp_path: Path) -> None:
    """Files parsed and a project checked before are read from the compile cache: neither
    the DSL's parser (Lark) nor a YAML reader is imported, nor the rules' sqlglot."""
    cache = tmp_path / "cache"
    env = {"METRICSPEC_CACHE_DIR": str(cache)}
    first, cold = imported(["check", "specs"], tmp_path, env)
    assert first == 0 and "lark" in cold and cold & {"ruamel", "yaml"}  # specs/ has YAML
    again, warm = imported(["check", "specs"], tmp_path, env)
    assert again == 0 and (cache / "check").is_dir()
    assert not warm & {"lark", "ruamel", "yaml", "sqlglot"}, warm & {"lark", "ruamel", "yaml"}
