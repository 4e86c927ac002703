"""Fixtures for the end-to-end tests: the demo warehouse at the scale `metricspec demo` uses,
built once per session, and the example specs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from metricspec.demo import generate
from metricspec.run.connections import Connection, connect
from metricspec.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo warehouse exactly as `metricspec demo` builds it (scale 1, default seed)."""
    path = tmp_path_factory.mktemp("demo") / "metricspec.duckdb"
    generate(path, scale=1.0)
    return path


@pytest.fixture(scope="session")
def workspace() -> Workspace:
    ws = Workspace.load(REPO / "specs")
    assert ws.ok, ws.render()
    return ws


@pytest.fixture()
def conn(demo_database: Path) -> Iterator[Connection]:
    with connect(f"duckdb:///{demo_database}") as connection:
        yield connection
