"""Drive one engine from a worker thread, so a slow engine works while the tests of the
others run.

zetasql's reference evaluator needs seconds per query on a small warehouse, all of it inside
WebAssembly calls that release the GIL; Spark and PostgreSQL work in other processes. A test
module can load the slow engine and submit every query it will ask for up front, then read
the answers when its tests get there. Every call on the engine goes through the one worker
thread, in submission order, so the engine is never used from two threads at once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import pyarrow as pa

from harness.base import Engine

T = TypeVar("T")


class Background:
    """An engine loaded and queried by a dedicated worker thread."""

    def __init__(self, engine: Engine, tables: Mapping[str, pa.Table]) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{engine.name}-worker")
        self.loaded = self._pool.submit(engine.load, tables)
        self._futures: dict[Hashable, Future[Any]] = {}

    def submit(self, key: Hashable, call: Callable[..., Any], *args: Any) -> None:
        """Queue ``call(*args)`` under ``key`` unless it is queued already."""
        if key not in self._futures:
            self._futures[key] = self._pool.submit(call, *args)

    def submitted(self, key: Hashable) -> bool:
        """Whether a call was queued under ``key``."""
        return key in self._futures

    def result(self, key: Hashable, call: Callable[..., T], *args: Any) -> T:
        """The result of ``call(*args)`` queued under ``key`` (queued now if it was not);
        its exception if it raised."""
        self.submit(key, call, *args)
        value: T = self._futures[key].result()
        return value

    def close(self) -> None:
        """Drop what has not started and wait for the call in progress."""
        self._pool.shutdown(wait=True, cancel_futures=True)
