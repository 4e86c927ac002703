"""Fixtures for the output tests (helpers in `outputs_helpers.py`)."""

from __future__ import annotations

import pytest
from outputs_helpers import Project, build_warehouse, hostile_spec


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("hostile")
    specs = root / "specs"
    specs.mkdir()
    (specs / "project.yaml").write_text(hostile_spec(), encoding="utf-8")
    database = root / "warehouse.duckdb"
    build_warehouse(database)
    return Project(specs, database)


