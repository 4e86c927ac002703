"""Parsing and checking in forked processes (`load(..., workers=N)`, `check(..., workers=N)`,
what the command line does for a large project) give exactly what one process gives: the
same project, diagnostics in the same order, the same cache entries and descriptions.

The size thresholds are lowered so that the corpus of broken specs (every diagnostic code,
files that fail to parse, files that are not spec files) and the example specs are split
between processes; the tests check that children were started."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import metricspec.check as check_module
import metricspec.parse as parse_module
from metricspec.backends import resolve_dialects
from metricspec.cache import Cache, describe
from metricspec.check import check
from metricspec.parse import load

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
PROJECTS = [HERE / "broken", ROOT / "specs", HERE / "equivalent"]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="children are forked on Linux only")


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch, forked_children: list[int]) -> list[int]:
    """Every project is worth splitting; the pids of the children started."""
    monkeypatch.setattr(parse_module, "_BYTES_PER_PART", 1)
    monkeypatch.setattr(check_module, "_METRICS_PER_PART", 1)
    return forked_children


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_parse_and_check_equal_one_process(project: Path, workers: int,
                                                    children: list[int]) -> None:
    alone = load([project], ROOT)
    assert not children
    split = load([project], ROOT, workers=workers)
    parsers = min(workers, len(alone.texts))
    assert parsers > 1 and len(children) == parsers - 1
    assert split.project == alone.project
    assert split.diagnostics == alone.diagnostics  # same order, not only the same set
    assert split.texts == alone.texts and split.broken == alone.broken
    backends = resolve_dialects(["duckdb", "postgres", "bigquery"])
    for chosen in ((), backends):
        one = check(alone.project, broken=alone.broken, backends=chosen)
        many = check(split.project, broken=split.broken, backends=chosen, workers=workers)
        assert many == one
    checkers = min(workers, len(alone.project.metrics))
    assert checkers > 1 and len(children) == parsers - 1 + 2 * (checkers - 1)


def test_the_corpus_has_diagnostics_of_every_stage() -> None:
    """The comparison above is not between empty lists."""
    loaded = load([HERE / "broken"], ROOT)
    assert any(d.code == "MS100" for d in loaded.diagnostics)  # not read
    assert any(d.code == "MS101" for d in loaded.diagnostics)  # syntax
    assert len(check(loaded.project, broken=loaded.broken)) > 100


def test_parallel_parse_fills_the_cache_as_one_process_does(tmp_path: Path,
                                                            children: list[int]) -> None:
    project = ROOT / "specs"
    cold = Cache.open(tmp_path / "cache")
    first = load([project], ROOT, cold, workers=3)
    assert len(children) == 2 and cold.misses == len(first.texts) and cold.hits == 0
    for obj in (*first.project.metrics, *first.project.sources, *first.project.experiments):
        assert cold.description(obj) == describe(obj)  # kept from the children's entries
    warm = Cache.open(tmp_path / "cache")
    again = load([project], ROOT, warm, workers=3)
    assert warm.hits == len(first.texts) and warm.misses == 0
    assert len(children) == 2  # nothing left to parse: no child
    assert again.project == first.project == load([project], ROOT).project
    assert all(warm.description(m) == describe(m) for m in again.project.metrics)
