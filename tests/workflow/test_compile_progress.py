"""`compile_all(progress=…)` reports the queries done as they are done, in one process, in
forked workers and from the cache, ending at the total; the command line draws it as a bar
on a terminal only."""

from __future__ import annotations

from pathlib import Path

import pytest

from metricspec.backends import resolve_dialects
from metricspec.cache import Cache
from metricspec.pipeline import compile_all
from metricspec.pipeline.batch import PARALLEL_MIN_TASKS
from metricspec.workspace import Workspace

REPO = Path(__file__).parents[2]


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_counts_every_query_once(workers: int, tmp_path: Path) -> None:
    ws = Workspace.load(REPO / "specs")
    backends = resolve_dialects(["duckdb", "bigquery", "snowflake"])  # over PARALLEL_MIN_TASKS
    seen: list[tuple[int, int]] = []
    compiled, failed = compile_all(ws.index, backends, workers=workers,
                                   progress=lambda done, total: seen.append((done, total)))
    assert not failed and seen
    total = len(compiled)
    assert {t for _, t in seen} == {total} and seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)  # never backwards
    if workers > 1:
        assert total >= PARALLEL_MIN_TASKS  # compiled by the workers
        assert 4 < len(seen) < total  # piece by piece as they came back, not at the end
    # from the cache: what is found counts at once, what is compiled as it is done
    cache = Cache.open(tmp_path / "cache")
    compile_all(ws.index, backends, cache=cache)
    again: list[tuple[int, int]] = []
    compile_all(ws.index, backends, cache=Cache.open(tmp_path / "cache"),
                progress=lambda done, total: again.append((done, total)))
    assert again == [(total, total)]
