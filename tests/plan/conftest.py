"""Fixtures for the plan tests: `specs/` parsed, checked (no errors) and indexed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from metricspec.check import check
from metricspec.parse import load
from metricspec.semantic import Index

SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.fixture(scope="session")
def index() -> Index:
    loaded = load([SPECS])
    errors = [d for d in loaded.diagnostics + check(loaded.project) if d.severity == "error"]
    assert not errors, errors
    return Index(loaded.project)
