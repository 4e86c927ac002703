"""Fixtures for the SQL tests: one small demo warehouse per session, its tables as pandas
DataFrames, and the example specs loaded once.

=====================  ============================================================
``warehouse_path``     a DuckDB file holding the demo warehouse at ``SCALE``
``con``                a read-only DuckDB connection to it
``tables``             the raw ``support.*`` tables as DataFrames (``sql_reference.Tables``)
``workspace``          ``specs/`` loaded and checked (file names relative to the repo root)
``index``              the workspace's semantic index
``run_sql``            compile an object for DuckDB and run it: ``run_sql(name, **options)``
``update_golden``      True when golden files should be rewritten (see below)
``cli_builds``         the output of a ``metricspec compile`` run with another hash seed,
                       started in the background right after collection
=====================  ============================================================

Golden SQL files are rewritten by ``pytest tests/sql --update-golden`` or, from any
directory and with any pytest arguments, ``METRICSPEC_UPDATE_GOLDEN=1 pytest tests/sql``.
(pytest only accepts an option from a conftest below the root when that conftest is loaded
before the command line is parsed, i.e. when ``tests/sql`` or a file in it is named on the
command line; the environment variable always works.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from sql_paths import REPO, UPDATE_ENV

sys.path.insert(0, str(Path(__file__).parent))  # make `sql_reference` importable

from sql_reference import Tables

from metricspec.backends import get_backend
from metricspec.demo import generate
from metricspec.pipeline import compile_object
from metricspec.semantic import Index
from metricspec.workspace import Workspace

SCALE = 0.25


CLI_TEST = "test_cli_compile_is_byte_identical_across_runs"
_CLI_BUILDS: list[tuple[Path, subprocess.Popen[bytes]]] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the `metricspec compile` run that `test_sql_golden` compares as soon as the
    test is selected, so it uses the machine's other core while the suite runs. Its hash
    seed differs from this process's (random unless PYTHONHASHSEED is set)."""
    if not any(item.name == CLI_TEST for item in session.items):
        return
    root = Path(tempfile.mkdtemp(prefix="metricspec-cli-"))
    for seed in ("2" if os.environ.get("PYTHONHASHSEED") == "1" else "1",):
        out = root / f"build{seed}"
        command = [sys.executable, "-m", "metricspec", "compile", "specs", "--dialect", "all",
                   "--out", str(out)]
        env = {**os.environ, "PYTHONHASHSEED": seed}
        _CLI_BUILDS.append((out, subprocess.Popen(command, cwd=REPO, env=env,
                                                  stdout=subprocess.PIPE,
                                                  stderr=subprocess.PIPE)))


def pytest_sessionfinish(session: pytest.Session) -> None:
    for out, process in _CLI_BUILDS:
        if process.poll() is None:
            process.kill()
        process.wait()
        shutil.rmtree(out.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def cli_builds() -> list[dict[str, bytes]]:
    """The files each `metricspec compile specs --dialect all` run wrote, by path (one
    run)."""
    assert _CLI_BUILDS, "started by pytest_collection_finish"
    trees = []
    for out, process in _CLI_BUILDS:
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr.decode() + stdout.decode()
        trees.append({p.relative_to(out).as_posix(): p.read_bytes()
                      for p in sorted(out.rglob("*")) if p.is_file()})
    return trees


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/sql/golden/ from the current compiler "
                          f"(or set {UPDATE_ENV}=1)")


@pytest.fixture(scope="session")
def update_golden(pytestconfig: pytest.Config) -> bool:
    flag = bool(pytestconfig.getoption("update_golden", default=False))
    return flag or os.environ.get(UPDATE_ENV, "") not in ("", "0")


@pytest.fixture(scope="session")
def warehouse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sql-warehouse") / "demo.duckdb"
    generate(path, scale=SCALE)
    return path


@pytest.fixture(scope="session")
def con(warehouse_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(warehouse_path), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def tables(con: duckdb.DuckDBPyConnection) -> Tables:
    return Tables.load(con)


@pytest.fixture(scope="session")
def workspace() -> Workspace:
    with contextlib.chdir(REPO):
        ws = Workspace.load("specs")
    assert ws.ok, ws.render("text")
    return ws


@pytest.fixture(scope="session")
def index(workspace: Workspace) -> Index:
    return workspace.index


@pytest.fixture(scope="session")
def run_sql(con: duckdb.DuckDBPyConnection, index: Index) -> Callable[..., pd.DataFrame]:
    """Compile one object for DuckDB and return its rows."""
    backend = get_backend("duckdb")

    def run(name: str, **options: object) -> pd.DataFrame:
        query = compile_object(index, name, backend, **options)  # type: ignore[arg-type]
        return con.execute(query.sql).df()

    return run
