"""The cycle collector around the stages that pause it (metricspec/collector.py): each puts
it back as it found it, and a large project leaves `load` settled in the oldest generation,
so the first allocation after it does not start a collection of the whole project (that
collection, and the full ones it led to, were half of check's time at 10,000 metrics)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from metricspec.check import check
from metricspec.collector import paused
from metricspec.parse import load

REPO = Path(__file__).parents[2]


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of every collection that starts while the test runs."""
    seen: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(note)
    try:
        yield seen
    finally:
        gc.callbacks.remove(note)


def test_paused_puts_the_collector_back_as_it_was() -> None:
    assert gc.isenabled()
    with paused() as enabled:
        assert enabled and not gc.isenabled()
        with paused() as inner:  # a caller that paused it: left alone
            assert not inner
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), paused():
        raise ValueError
    assert gc.isenabled()


def big_project(folder: Path, metrics: int = 3000) -> Path:
    lines = ["source events = table raw.events {\n  entity user_id: string\n"
             "  time ts: timestamp\n  column value: number\n}\n"]
    lines += [f"metric m{i:05d} = sum(events.value) * {i + 1}\n" for i in range(metrics)]
    (folder / "big.mspec").write_text("".join(lines), encoding="utf-8")
    return folder


def test_a_large_project_is_settled_before_the_collector_returns(
        tmp_path: Path, collections: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    from metricspec import parse

    folder = big_project(tmp_path)
    # "large" is 200,000 objects made by parsing (~7,000 metrics); 3,000 with the bar lower
    monkeypatch.setattr(parse, "_COLLECT_AFTER", 10_000)
    gc.collect()  # what earlier tests left in the youngest generation is not load's
    collections.clear()
    loaded = load([folder])
    assert not loaded.diagnostics and len(loaded.project.metrics) == 3000
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert gc.get_count()[0] < 1000  # not the project, waiting in the youngest generation
    assert collections == []  # nothing walked it on the way out
    assert not [d for d in check(loaded.project) if d.is_error]
    assert 2 not in collections  # no full collection while checking
    assert gc.isenabled()


def test_check_and_load_leave_a_paused_collector_paused(tmp_path: Path) -> None:
    gc.disable()
    try:
        loaded = load([big_project(tmp_path, 200)])
        check(loaded.project)
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()
