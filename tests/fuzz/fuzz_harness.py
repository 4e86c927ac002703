"""Run one fuzz input through `check` and, when check accepts it, through compile for every
backend; classify anything that is not a diagnostic.

An input may use at most `TIMEOUT` seconds of CPU: CPU time rather than wall time, so a
machine busy with other work does not turn a slow input into a "hang". Blocking (a FIFO)
uses no CPU, so a wall-clock limit of `WALL_FACTOR` times as long catches that.
`check_input` runs in the calling process (with an alarm against pure-Python hangs);
`Worker` runs inputs in a child process with that wall-clock limit and a memory limit, so a
hang in C code (a regular expression, a parser) or a memory blow-up is caught too.
"""

from __future__ import annotations

import multiprocessing
import re
import shutil
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

TIMEOUT = 5.0
WALL_FACTOR = 6
MEMORY_LIMIT = 3 * 1024**3
# Rendered diagnostics may not exceed this plus twice the input: a 10 MB line once printed
# 30 MB.
OUTPUT_ALLOWANCE = 200_000


@dataclass(frozen=True)
class Result:
    """What one input did: accepted by check or not, how many queries compiled, and the
    failure class and details when something other than a diagnostic came out."""

    accepted: bool = False
    diagnostics: int = 0
    compiled: int = 0
    failure: str | None = None
    detail: str = ""
    cpu_seconds: float = 0.0


class Hang(Exception):
    pass


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise `Hang` in this (main) thread after `seconds` of pure-Python work."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
            signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise Hang(f"no result after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_input(suffix: str, data: bytes, compile_all_backends: bool = True,
                timeout: float = TIMEOUT) -> Result:
    """Check one file (and compile it if accepted); never raises."""
    folder = Path(tempfile.mkdtemp(prefix="metricspec-fuzz-"))
    started = time.process_time()
    try:
        path = folder / f"fuzz{suffix}"
        path.write_bytes(data)
        with deadline(timeout * WALL_FACTOR):
            result = _check(path, len(data), compile_all_backends)
        cpu = time.process_time() - started
        if cpu > timeout and result.failure is None:
            return replace(result, failure="slow", cpu_seconds=cpu,
                           detail=f"{cpu:.1f} s of CPU (the limit is {timeout:g} s)")
        return replace(result, cpu_seconds=cpu)
    except Hang as exc:
        return Result(failure="hang", detail=str(exc))
    except BaseException as exc:  # everything that is not a diagnostic is a finding
        if isinstance(exc, KeyboardInterrupt):
            raise
        return Result(failure=crash_class(exc), detail=traceback.format_exc(limit=-12))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _check(path: Path, size: int, compile_all_backends: bool) -> Result:
    from metricspec.backends import all_backends
    from metricspec.diagnostics import CODES
    from metricspec.pipeline import compile_all
    from metricspec.workspace import Workspace

    ws = Workspace.load(path)
    for d in ws.diagnostics:
        if d.code not in CODES or d.span.line < 0 or d.span.column < 0:
            return Result(failure=f"bad-diagnostic:{d.code}", detail=repr(d))
    for fmt in ("text", "json", "github"):
        shown = ws.render(fmt)
        if len(shown) > OUTPUT_ALLOWANCE + 2 * size:
            return Result(failure=f"output-too-large:{fmt}",
                          detail=f"{len(shown):,} characters for a {size:,}-byte input")
    if not ws.ok:
        return Result(diagnostics=len(ws.diagnostics))
    if not compile_all_backends:
        return Result(accepted=True, diagnostics=len(ws.diagnostics))
    # each backend `check --dialect` accepts the input for (what one engine cannot compute
    # is an error only for it: MS455, MS703, …), which must then compile
    backends = [b for b in all_backends().values()
                if Workspace.load(path, backends=[b], compile_check=False).ok]
    compiled, failed = compile_all(ws.index, backends, per_metric=True)
    if failed:
        first = failed[0]
        return Result(accepted=True, diagnostics=len(ws.diagnostics), compiled=len(compiled),
                      failure=compile_class(first.reason),
                      detail="\n".join(str(f) for f in failed[:5]))
    return Result(accepted=True, diagnostics=len(ws.diagnostics), compiled=len(compiled))


def crash_class(exc: BaseException) -> str:
    """`crash:KeyError@metricspec/parse/yaml_spec.py:key_span`: the innermost frame in the
    package, so one defect is one class however many inputs hit it."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/metricspec/" in f.filename.replace("\\", "/")]
    frame = (ours or frames or [None])[-1]
    where = ""
    if frame is not None:
        name = frame.filename.replace("\\", "/")
        start = name.rfind("metricspec/") if ours else name.rfind("/") + 1
        where = "@" + name[start:] + ":" + frame.name
    return f"crash:{type(exc).__name__}{where}"


def compile_class(reason: str) -> str:
    """A compile failure of an accepted spec, with names and numbers masked."""
    kind = "compile-internal" if "internal error" in reason else "compile-refused"
    masked = re.sub(r"\d+", "N", re.sub(r"`[^`]*`", "`…`", reason))
    return f"{kind}:{masked[:70]}"


# ---------------------------------------------------------------- a worker process

def _serve(conn: Connection, compile_all_backends: bool) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, resource.RLIM_INFINITY))
    except (ImportError, ValueError, OSError):
        pass
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        suffix, data = job
        conn.send(check_input(suffix, data, compile_all_backends))


class Worker:
    """A child process that checks inputs one at a time; a hang or a death is a result."""

    def __init__(self, compile_all_backends: bool = True, timeout: float = TIMEOUT) -> None:
        self.compile_all_backends = compile_all_backends
        self.timeout = timeout
        methods = multiprocessing.get_all_start_methods()
        self.context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.process: Any = None
        self.conn: Connection | None = None

    def _start(self) -> None:
        parent, child = self.context.Pipe()
        self.process = self.context.Process(target=_serve,
                                            args=(child, self.compile_all_backends),
                                            daemon=True)
        self.process.start()
        child.close()
        self.conn = parent

    def run(self, suffix: str, data: bytes, timeout: float | None = None) -> Result:
        if self.process is None or not self.process.is_alive():
            self._start()
        assert self.conn is not None
        self.conn.send((suffix, data))
        limit = self.timeout * WALL_FACTOR if timeout is None else timeout
        if not self.conn.poll(limit):
            self.stop()
            return Result(failure="hang", detail=f"no result after {limit:g} s")
        try:
            result: Result = self.conn.recv()
        except (EOFError, OSError):
            code = self.process.exitcode if self.process else None
            self.stop()
            return Result(failure=f"worker-died:{code}", detail="the checking process died")
        return result

    def stop(self) -> None:
        if self.process is not None:
            if self.process.is_alive():
                self.process.kill()
            self.process.join(5)
        if self.conn is not None:
            self.conn.close()
        self.process, self.conn = None, None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
