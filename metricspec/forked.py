"""Independent parts of one stage run at once: the first here, each other in a forked child.

A stage that reads the whole project (parsing every file, checking every object) splits its
work into parts whose results do not depend on each other; `run_parts` runs them on as many
cores as there are parts and gives the results back in the order of the parts, so the
output is the same as running them one after the other. Forking copies the project for free
(copy-on-write); each child sends its result back pickled through a pipe.

It falls back to running every part here — same results, one core — where forking is not
possible or not safe: no `fork` (Windows, macOS' default is kept away from), other Python
threads alive (a child would inherit their locks held), a child that dies, fails or sends
back something unreadable. A part that raises raises here, as it would have run alone.
Callers decide when a stage is large enough to be worth a fork (a few milliseconds each).
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
_PR_SET_PDEATHSIG = 1  # prctl(2)

Dump = Callable[[Any], bytes]
Load = Callable[[bytes], Any]


def cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and `taskset`
    narrow; `os.cpu_count()` counts the whole machine's)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        try:
            return max(1, len(affinity(0)))
        except OSError:
            pass
    return os.cpu_count() or 1


def available() -> bool:
    """Whether parts may run in forked children here and now."""
    return (hasattr(os, "fork") and sys.platform.startswith("linux")
            and threading.active_count() == 1)


def run_parts(parts: Sequence[Callable[[], T]], *, dump: Dump = pickle.dumps,
              load: Load = pickle.loads) -> list[T]:
    """`[part() for part in parts]`, the parts after the first in forked children at the
    same time as the first runs here; `dump` and `load` carry a child's result back."""
    if len(parts) < 2 or not available():
        return [part() for part in parts]
    children: list[tuple[int, int] | None] = []
    try:
        for part in parts[1:]:
            children.append(_fork(part, dump))
        first = parts[0]()
        results = [first]
        for i, part in enumerate(parts[1:]):
            child, children[i] = children[i], None  # collected: `_end` leaves it alone
            found = _collect(child, load)
            results.append(found[0] if found else part())
        return results
    finally:  # interrupted or failed here: no child is left running
        for child in children:
            if child is not None:
                _end(child)


def _fork(part: Callable[[], Any], dump: Dump) -> tuple[int, int] | None:
    """Start `part` in a child; its pid and the pipe its result comes through (None when
    no child could be started: the part then runs here)."""
    try:
        read, write = os.pipe()
    except OSError:
        return None
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return None
    if pid == 0:  # the child: never returns into the caller's code
        status = 1
        try:
            os.close(read)
            _end_with(parent)
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                signal.signal(signal.SIGINT, signal.SIG_DFL)  # the parent reports Ctrl-C
            data = dump(part())
            with os.fdopen(write, "wb") as pipe:
                pipe.write(data)
            status = 0
        except BaseException:  # the parent runs the part again and reports
            pass
        finally:
            os._exit(status)
    os.close(write)
    return pid, read


def _end_with(parent: int) -> None:
    """Have this child killed when its parent dies (killed, it runs no `finally` that would
    stop its children): Linux's parent-death signal, set through libc."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the signal was asked for
        os._exit(1)


def _collect(child: tuple[int, int] | None, load: Load) -> tuple[Any] | None:
    """The child's result (in a 1-tuple), or None when it has none to give."""
    if child is None:
        return None
    pid, read = child
    try:
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
    except BaseException:
        _stop(pid)
        raise
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    try:
        return (load(data),)
    except Exception:  # unreadable: the part runs here instead
        return None


def _end(child: tuple[int, int]) -> None:
    """Stop a child whose result was not collected, reap it and close its pipe."""
    pid, read = child
    _stop(pid)
    os.close(read)


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


__all__ = ["available", "cores", "run_parts"]
