"""A small example warehouse (embedded DuckDB) shared by the workflow tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from metricspec.demo import generate


@pytest.fixture(scope="session")
def small_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("workflow") / "small.duckdb"
    generate(path, scale=0.02)
    return path
