"""The package passes ruff and mypy --strict (configured in pyproject.toml), in CI like any
other test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _tool(name: str) -> list[str]:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return [str(beside)]
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (it is in the `test` extra)")
    return [found]


def test_ruff() -> None:
    result = subprocess.run([*_tool("ruff"), "check", "metricspec"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.slow
def test_mypy_strict() -> None:
    result = subprocess.run([*_tool("mypy")], cwd=REPO, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-4000:]
