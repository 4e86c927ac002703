"""`metricspec.forked.run_parts`: parts after the first run in forked children, results come
back in order, and anything a child cannot do is done here instead."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from metricspec import forked

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="children are forked on Linux only")


def test_parts_run_in_other_processes_and_come_back_in_order(
        forked_children: list[int]) -> None:
    parts = [lambda n=n: (n, os.getpid()) for n in range(4)]
    results = forked.run_parts(parts)
    assert [n for n, _ in results] == [0, 1, 2, 3]
    pids = [pid for _, pid in results]
    assert pids[0] == os.getpid()
    assert len(set(pids)) == 4 and len(forked_children) == 3  # each in a child of its own


def test_a_part_that_fails_in_its_child_runs_here_and_raises_here(
        forked_children: list[int]) -> None:
    calls: list[int] = []

    def fails() -> int:
        calls.append(os.getpid())
        raise ValueError("broken part")

    with pytest.raises(ValueError, match="broken part"):
        forked.run_parts([lambda: 1, fails])
    assert calls == [os.getpid()]  # the child's own call is not seen here


def test_a_child_that_dies_or_sends_nothing_readable_is_replaced_by_running_here(
        forked_children: list[int]) -> None:
    here = os.getpid()

    def dies() -> int:
        if os.getpid() != here:
            os._exit(3)
        return 2

    assert forked.run_parts([lambda: 1, dies]) == [1, 2]
    assert forked.run_parts([lambda: 1, lambda: os.getpid()],
                            load=lambda data: 1 / 0) == [1, here]


def test_no_child_is_left_behind_when_the_first_part_fails(
        forked_children: list[int]) -> None:
    def slow() -> int:
        import time
        time.sleep(30)
        return 0

    def first() -> int:
        raise KeyError("here")

    with pytest.raises(KeyError):
        forked.run_parts([first, slow])
    assert len(forked_children) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(forked_children[0], os.WNOHANG)  # killed and reaped already


def test_with_other_threads_alive_nothing_is_forked() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not forked.available()
        assert forked.run_parts([os.getpid, os.getpid]) == [os.getpid()] * 2
    finally:
        stop.set()
        thread.join()


def test_cores_are_those_this_process_may_run_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert forked.cores() == 1  # a container or `taskset` narrowed it to one
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert forked.cores() == (os.cpu_count() or 1)


def test_an_interrupt_ignored_here_is_ignored_by_the_children(
        forked_children: list[int]) -> None:
    """Ctrl-C stops a child at once (this process reports it), unless this process ignores
    it (`nohup`, a background job): then its children ignore it too and finish their part."""
    def disposition() -> str:
        handler = signal.getsignal(signal.SIGINT)
        return "ignored" if handler is signal.SIG_IGN else "default" if (
            handler is signal.SIG_DFL) else "python"

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        assert forked.run_parts([disposition, disposition]) == ["ignored", "ignored"]
        signal.signal(signal.SIGINT, signal.default_int_handler)
        assert forked.run_parts([disposition, disposition]) == ["python", "default"]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_children_end_with_a_killed_parent(tmp_path: Path) -> None:
    """A parent killed outright runs no `finally`: its children are ended by the kernel."""
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import os, sys, time
        from metricspec import forked

        def child():
            print(os.getpid(), flush=True)
            time.sleep(60)

        forked.run_parts([lambda: time.sleep(60), child])
    """), encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                              text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped (or gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return False
    return "\nState:\tZ" not in status
