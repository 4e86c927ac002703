"""Compile every object of a project for several backends, in worker processes when the
project is large; one object's failure never stops the others."""

from __future__ import annotations

import gc
import multiprocessing
import pickle
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from metricspec.backends import Backend
from metricspec.collector import paused
from metricspec.pipeline.driver import Compiled, CompileError, compile_kind
from metricspec.pipeline.kinds import KINDS, Kind, metric_groups
from metricspec.semantic import Index

if TYPE_CHECKING:
    from metricspec.cache import Cache
    from metricspec.pipeline.cached import QueryKeys

Task = tuple[Backend, Kind, str]  # (backend, kind, object or source-group name)
Outcome = tuple[list[Compiled], list[CompileError]]
Progress = Callable[[int, int], None]  # (queries done, queries in all)
_COLLECT_PER_QUERY = False  # set while `_project_frozen` has paused the collector
_FORKED_INDEX: Index | None = None  # what forked workers compile from
PARALLEL_MIN_TASKS = 48
_CHUNKS_PER_WORKER = 8  # pieces of work per worker: progress reported as each comes back
_PACK_SLACK = 16  # queries a pack may miss before it is written again (and 5% of them)


def compile_all(
    index: Index,
    backends: Iterable[Backend],
    *,
    per_metric: bool = False,
    workers: int = 1,
    cache: Cache | None = None,
    progress: Progress | None = None,
) -> tuple[list[Compiled], list[CompileError]]:
    """Every object for every backend, in a stable order; failures are returned, not raised.

    Metrics are compiled in groups (one query per set of sources, so each source is scanned
    once for all its metrics); `per_metric` adds one query per metric. When a group fails,
    its metrics are compiled one by one so the failure names the metric at fault. With
    `workers` > 1, large projects are compiled by forked worker processes (the command line
    does this; a library caller with threads of its own, such as an open DuckDB connection,
    should keep the default of 1, since forking a threaded process is unsafe). The output is
    the same, in the same order. With a `cache`, a query whose key (`cached.QueryKeys`:
    everything it depends on) was compiled before is read from it, not compiled again.
    `progress(done, total)` is called as queries are done (for a progress bar).
    """
    objects: list[tuple[Kind, str]] = [("metric", name) for name in sorted(index.metrics)
                                       if per_metric]
    for kind in ("experiment", "monitor", "guardrail", "kpi"):
        objects += [(kind, name) for name in sorted(index.objects[kind])]
    groups: list[tuple[Kind, str]] = [("metrics", group) for group in metric_groups(index)]
    tasks = [(backend, kind, name) for backend in backends for kind, name in groups + objects]
    report = Tally(len(tasks), progress)
    with _project_frozen():
        outcomes = (_run(index, tasks, workers, report) if cache is None
                    else _run_cached(index, tasks, workers, cache, report))
    compiled = [query for done, _ in outcomes for query in done]
    failed = [error for _, errors in outcomes for error in errors]
    return compiled, failed


@contextmanager
def _project_frozen() -> Iterator[None]:
    """Compiling makes many short-lived sqlglot trees (cycles: nodes point at their parents),
    and each full collection of the cycle collector also walked the whole project, so the
    same query cost more in a larger project. The objects alive now (the project, the
    index) are set aside from collection while compiling, and put back after (forked
    workers also share them without copying). A caller's own frozen objects are left as
    they are: then nothing is done.

    Automatic collection is paused too: each query's garbage is collected when the query is
    done (`_compile_task`), in one pass over what that query made. Left to itself, the
    collector ran every few hundred allocations, promoted the trees still being built to
    older generations and walked them again there, with everything compiled so far: a
    third of the compile time, and more per query in a larger project."""
    if gc.get_freeze_count():
        yield
        return
    global _COLLECT_PER_QUERY
    gc.freeze()
    try:
        with paused() as enabled:  # a caller that paused it itself is left to collect
            _COLLECT_PER_QUERY = enabled
            yield
    finally:
        _COLLECT_PER_QUERY = False
        gc.unfreeze()


class Tally:
    """Counts the tasks done for a `Progress` callback (nothing without one)."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = total, 0, progress

    def add(self, count: int) -> None:
        self.done += count
        if self.progress is not None and count:
            self.progress(self.done, self.total)


def _run_cached(index: Index, tasks: list[Task], workers: int, cache: Cache,
                report: Tally) -> list[Outcome]:
    """`_run`, with the queries found in the cache read from it and the others stored: the
    SQL of all the tasks from one pack (the SQL last compiled for these backends, by key),
    else from each query's entry; a plan is read from the query's entry if asked for."""
    from metricspec.pipeline.cached import QueryKeys

    keys = QueryKeys(index, cache.fingerprint, cache.description)
    names = [keys.query(kind, name, backend) for backend, kind, name in tasks]
    pack = pack_name(cache, [backend for backend, _, _ in tasks])
    packed = cache.get_pack(pack, names)
    values = {} if packed is None else packed
    from_pack = None if packed is None else len(packed)
    outcomes = compile_cached(keys, tasks, names, cache, values, workers, report)
    store_pack(cache, pack, names, values, from_pack)
    return outcomes


def pack_name(cache: Cache, backends: Iterable[Backend]) -> str:
    """One pack per set of backends, rewritten in place (one per project state would leave
    a pack behind at each change)."""
    from metricspec.cache import key

    return key(cache.fingerprint, "pack", *sorted({backend.name for backend in backends}))


def compile_cached(keys: QueryKeys, tasks: list[Task], names: list[str], cache: Cache,
                   packed: dict[str, Any], workers: int, report: Tally) -> list[Outcome]:
    """Each task's query under its key in `names`: from `packed` (what the pack held: the
    queries found or compiled are added to it), else from its own entry, else compiled
    from `keys.index` and stored."""
    from metricspec.cache import dumps

    outcomes: list[Outcome | None] = []
    for (backend, kind, name), entry in zip(tasks, names, strict=True):
        found = packed.get(entry) or cache.get("sql", entry)
        if isinstance(found, tuple) and len(found) in (2, 3):
            plan = partial(stored_plan, cache, entry) if len(found) == 2 else found[2]
            packed[entry] = found[:2]
            outcomes.append(([keys.compiled(kind, name, backend, found[0], found[1], plan,
                                            entry)], []))
        else:
            outcomes.append(None)
    missing = [i for i, outcome in enumerate(outcomes) if outcome is None]
    report.add(len(tasks) - len(missing))
    for i, outcome in zip(missing, _run(keys.index, [tasks[i] for i in missing], workers,
                                        report), strict=True):
        done, errors = outcome
        if len(done) == 1:  # failures are not stored: they are compiled again
            done = [replace(done[0], key=names[i])]
            try:  # the plan apart: `compile` reads only the SQL, most callers no plan
                plan = dumps(done[0].plan, keys.reference)
            except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
                pass  # not stored: compiled again next time
            else:
                cache.put("sql", names[i], (done[0].sql, done[0].notes, plan))
                packed[names[i]] = (done[0].sql, done[0].notes)
        outcomes[i] = (done, errors)
    return [outcome for outcome in outcomes if outcome is not None]


def store_pack(cache: Cache, pack: str, names: list[str], values: dict[str, Any],
               from_pack: int | None) -> None:
    """Write the pack `values` (by key) again when it was missing (`from_pack` is None),
    or when many queries came from elsewhere than the `from_pack` it gave: a few changed
    ones are read from their own entries rather than writing it all again."""
    if from_pack is None or len(values) - from_pack > max(_PACK_SLACK, len(names) // 20):
        cache.put_pack(pack, {entry: values[entry] for entry in names if entry in values})


def stored_plan(cache: Cache, entry: str) -> bytes | None:
    """The pickled plan of the query entry `entry`, if it is there."""
    found = cache.get("sql", entry)
    return found[2] if isinstance(found, tuple) and len(found) == 3 else None


def _compile_task(index: Index, task: Task) -> Outcome:
    """One task's query or failures; one object's failure, even a crash, never aborts the
    others (a crash is reported as an internal error of that object)."""
    backend, kind, name = task
    done, failed = _guarded(kind, name, backend,
                            lambda: compile_kind(kind, index, name, backend))
    if not done and kind == "metrics":
        culprits = []
        for member in metric_groups(index)[name]:  # name the metric at fault
            culprits += _guarded("metric", member, backend,
                                 partial(compile_kind, "metric", index, member, backend))[1]
        done, failed = [], culprits or failed
    if _COLLECT_PER_QUERY:  # `_project_frozen` paused the collector: this query's trees
        gc.collect(0)
    return done, failed


def _guarded(kind: Kind, name: str, backend: Backend, build: Callable[[], Compiled]) -> Outcome:
    try:
        return [build()], []
    except CompileError as exc:
        return [], [exc]
    except Exception as exc:  # a bug: reported for this object, the others still compile
        return [], [CompileError(KINDS[kind].label, name, backend.name,
                                 f"internal error (a bug in metricspec): "
                                 f"{type(exc).__name__}: {exc}")]


def _compile_chunk(tasks: list[Task]) -> list[Outcome]:
    assert _FORKED_INDEX is not None
    return [_compile_task(_FORKED_INDEX, task) for task in tasks]


def _run(index: Index, tasks: list[Task], workers: int, report: Tally) -> list[Outcome]:
    if (
        workers < 2
        or len(tasks) < PARALLEL_MIN_TASKS
        or "fork" not in (multiprocessing.get_all_start_methods())
    ):
        return _run_here(index, tasks, report)
    global _FORKED_INDEX
    _FORKED_INDEX = index
    # Interleaved chunks balance the big experiment queries across the workers; several per
    # worker, so that progress is seen as each comes back.
    count = min(len(tasks), workers * _CHUNKS_PER_WORKER)
    chunks = [tasks[i::count] for i in range(count)]
    results: list[list[Outcome]] = []
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for chunk_results in pool.map(_compile_chunk, chunks):
                results.append(chunk_results)
                report.add(len(chunk_results))
    except BrokenProcessPool:  # a worker died: compile here instead
        report.done = report.total - len(tasks)  # these tasks are counted again here
        return _run_here(index, tasks, report)
    finally:
        _FORKED_INDEX = None
    # Workers send back copies of the backends: give each query the caller's own object,
    # so `query.backend is backend` holds whichever way the project was compiled.
    backends = {id(task[0]): task[0] for task in tasks}
    ordered: list[Outcome] = [([], [])] * len(tasks)
    for offset, chunk_results in enumerate(results):
        for position, (done, errors) in enumerate(chunk_results):
            index_ = offset + position * count
            own = backends[id(tasks[index_][0])]
            ordered[index_] = ([replace(q, backend=own) for q in done], errors)
    return ordered


def _run_here(index: Index, tasks: list[Task], report: Tally) -> list[Outcome]:
    outcomes = []
    for task in tasks:
        outcomes.append(_compile_task(index, task))
        report.add(1)
    return outcomes
