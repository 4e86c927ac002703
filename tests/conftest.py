"""Session-wide settings of the test environment.

- Every test runs without the compile cache unless it asks for one: tests that patch the
  compiler must see it run, and no test writes `.metricspec_cache/` into a project folder.
  The cache's own tests (tests/workflow/test_compile_cache.py) turn it on explicitly.
- The terminal of whoever runs `pytest` does not reach the command line under test: an
  exported `COLUMNS=80` wrapped the CLI's output and broke tests that read it. Tests that
  are about widths set `COLUMNS` themselves.
"""

import os

import pytest

os.environ.setdefault("METRICSPEC_NO_CACHE", "1")
# before any test module imports the CLI, whose consoles read COLUMNS when created
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)


@pytest.fixture(autouse=True)
def _no_terminal_size_from_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


@pytest.fixture
def forked_children(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the children `metricspec.forked.run_parts` starts during the test, which
    may fork although earlier tests left threads running in this process (engine clients:
    Spark's gateway, database pools), as the command line, which has none, does."""
    from metricspec import forked

    monkeypatch.setattr(forked, "available", lambda: True)
    started: list[int] = []
    fork = forked._fork

    def recorded(*args: object) -> tuple[int, int] | None:
        child = fork(*args)  # type: ignore[arg-type]
        if child is not None:
            started.append(child[0])
        return child

    monkeypatch.setattr(forked, "_fork", recorded)
    return started
