"""Compile spec objects to SQL text for backends, and write them to an output folder.

build/<dialect>/metrics/<sources>.sql       every metric reading exactly these sources, by
                                            day, in one query: one scan per source (e.g.
                                            `feedback.sql`, `conversations+messages.sql`)
build/<dialect>/metrics/<metric>.sql        one metric by day (with `per_metric=True`)
build/<dialect>/experiments/<name>.sql      sufficient statistics (long format)
build/<dialect>/monitors/<name>.sql         windows in alert
build/<dialect>/guardrails/<name>.sql       windows breaking the guardrail
build/<dialect>/kpis/<name>.sql             reconciliation of the tree's compositions
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Literal

from sqlglot.errors import SqlglotError

from metricspec.backends import Backend
from metricspec.emit.experiment_sql import experiment_sql
from metricspec.emit.kpi_sql import kpi_sql
from metricspec.emit.metric_sql import metric_query_sql
from metricspec.emit.monitor_sql import monitor_sql
from metricspec.emit.render import render_sql
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.outputs import ensure_folder, file_name, inside, remove, write_text
from metricspec.plan.experiment import plan_experiment
from metricspec.plan.kpi import plan_kpi
from metricspec.plan.lower import PlanError
from metricspec.plan.metric_query import Grain, plan_metric_query
from metricspec.plan.monitor import plan_monitor
from metricspec.semantic import Index

Kind = Literal["metric", "metrics", "experiment", "monitor", "guardrail", "kpi"]
FOLDERS: dict[str, str] = {
    "metric": "metrics",
    "metrics": "metrics",
    "experiment": "experiments",
    "monitor": "monitors",
    "guardrail": "guardrails",
    "kpi": "kpis",
}


class CompileError(ValueError):
    """An object that cannot be compiled for a backend, with the reason.

    `request` is True when the request (grain, dimensions, time range) is what cannot be
    answered, rather than the object: the command line exits 2 for those.
    """

    def __init__(self, kind: str, name: str, backend: str, reason: str,
                 request: bool = False) -> None:
        super().__init__(f"cannot compile {kind} `{name}` for {backend}: {reason}")
        self.kind, self.name, self.backend, self.reason = kind, name, backend, reason
        self.request = request

    def __reduce__(self) -> tuple[type[CompileError], tuple[str, str, str, str, bool]]:
        # forked compile workers send failures back pickled
        return (CompileError, (self.kind, self.name, self.backend, self.reason, self.request))


@dataclass(frozen=True)
class CompiledQuery:
    kind: Kind
    name: str
    backend: Backend
    sql: str

    @property
    def parts(self) -> tuple[str, str, str]:
        """The file's path under the output folder, one safe file name per part."""
        return (file_name(self.backend.name), FOLDERS[self.kind], file_name(self.name, ".sql"))

    @property
    def path(self) -> str:
        return "/".join(self.parts)


def object_kind(index: Index, name: str) -> Kind | None:
    """What a name refers to among compilable objects."""
    found = index.find(name)
    return found[0] if found else None  # type: ignore[return-value]


def compile_object(
    index: Index,
    name: str,
    backend: Backend,
    *,
    grain: Grain | None = None,
    dimensions: tuple[str, ...] = (),
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> CompiledQuery:
    """Compile one object by name; raises `CompileError` with the reason when it cannot."""
    kind = object_kind(index, name)
    if kind is None:
        raise CompileError(
            "object",
            name,
            backend.name,
            "no metric, experiment, monitor, guardrail or KPI tree has this name",
        )
    sql = SqlBuilder(backend)
    notes: list[str] = []
    try:
        if kind == "metric":
            plan = plan_metric_query(
                index, [name], grain=grain, dimensions=dimensions, start=start, end=end
            )
            tree, files = metric_query_sql(plan, sql), plan.files
            notes.append(
                f"grain: {plan.grain}"
                + (f"; dimensions: {', '.join(dimensions)}" if dimensions else "")
            )
            if backend.capabilities.percentile == "approximate" and any(
                m.func == "quantile" for s in plan.scans for m in s.measures
            ):
                notes.append(f"percentiles are approximate on {backend.title}")
        elif kind == "experiment":
            exp_plan = plan_experiment(index, name)
            tree, files = experiment_sql(exp_plan, sql), exp_plan.files
            notes.append(
                "output: sufficient statistics in the long format (docs/sufficient-statistics.md)"
            )
        elif kind in ("monitor", "guardrail"):
            mon_plan = plan_monitor(index, name, start=start, end=end)
            tree, files = monitor_sql(mon_plan, sql), mon_plan.files
            notes.append(f"alerts when {mon_plan.metric} is {mon_plan.description}")
        else:
            kpi_plan = plan_kpi(index, name, grain=grain, start=start, end=end)
            tree, files = kpi_sql(kpi_plan, sql), kpi_plan.files
        text = render_sql(tree, backend, kind=kind, name=name, files=files, notes=notes)
    except (PlanError, SqlglotError, KeyError) as exc:
        raise CompileError(kind, name, backend.name, str(exc).split("\n")[0],
                           request=isinstance(exc, PlanError)) from exc
    return CompiledQuery(kind, name, backend, text)


def metric_groups(index: Index) -> dict[str, list[str]]:
    """Metrics grouped by the exact set of sources they read, named after those sources.

    >>> # e.g. {"feedback": ["ces", "csat", ...], "conversations+messages": [...]}
    """
    groups: dict[str, list[str]] = {}
    for name in sorted(index.metrics):
        sources = sorted(set(index.sources_of(name))) or ["constants"]
        groups.setdefault("+".join(sources), []).append(name)
    return dict(sorted(groups.items()))


def compile_metric_group(
    index: Index, group: str, metrics: list[str], backend: Backend
) -> CompiledQuery:
    """All metrics of one source group by day, in one query."""
    try:
        plan = plan_metric_query(index, metrics, title=group)
        tree = metric_query_sql(plan, SqlBuilder(backend))
        notes = ["grain: day", f"metrics: {', '.join(metrics)}"]
        if backend.capabilities.percentile == "approximate" and any(
            m.func == "quantile" for s in plan.scans for m in s.measures
        ):
            notes.append(f"percentiles are approximate on {backend.title}")
        text = render_sql(
            tree, backend, kind="metric query", name=group, files=plan.files, notes=notes
        )
    except (PlanError, SqlglotError, KeyError) as exc:
        raise CompileError("metric query", group, backend.name, str(exc).split("\n")[0]) from exc
    return CompiledQuery("metrics", group, backend, text)


Task = tuple[Backend, str, list[str]]  # (backend, object or group name, group members)
Outcome = tuple[list[CompiledQuery], list[CompileError]]
_FORKED_INDEX: Index | None = None  # what forked workers compile from
PARALLEL_MIN_TASKS = 48


def _compile_task(index: Index, task: Task) -> Outcome:
    """One task's queries or failures; one object's failure, even a crash, never aborts the
    others (a crash is reported as an internal error of that object)."""
    backend, name, members = task
    if not members:
        return _guarded("object", name, backend, lambda: compile_object(index, name, backend))
    done, failed = _guarded("metric query", name, backend,
                            lambda: compile_metric_group(index, name, members, backend))
    if done:
        return done, []
    culprits = []
    for member in members:  # name the metric at fault
        culprits += _guarded("metric", member, backend,
                             partial(compile_object, index, member, backend))[1]
    return [], culprits or failed


def _guarded(kind: str, name: str, backend: Backend,
             build: Callable[[], CompiledQuery]) -> Outcome:
    try:
        return [build()], []
    except CompileError as exc:
        return [], [exc]
    except Exception as exc:  # a bug: reported for this object, the others still compile
        return [], [CompileError(kind, name, backend.name,
                                 f"internal error (a bug in metricspec): "
                                 f"{type(exc).__name__}: {exc}")]


def _compile_chunk(tasks: list[Task]) -> list[Outcome]:
    assert _FORKED_INDEX is not None
    return [_compile_task(_FORKED_INDEX, task) for task in tasks]


def compile_all(
    index: Index,
    backends: Iterable[Backend],
    *,
    per_metric: bool = False,
    workers: int = 1,
) -> tuple[list[CompiledQuery], list[CompileError]]:
    """Every object for every backend, in a stable order; failures are returned, not raised.

    Metrics are compiled in groups (one query per set of sources, so each source is scanned
    once for all its metrics); `per_metric` adds one query per metric. When a group fails,
    its metrics are compiled one by one so the failure names the metric at fault. With
    `workers` > 1, large projects are compiled by forked worker processes (the command line
    does this; a library caller with threads of its own, such as an open DuckDB connection,
    should keep the default of 1, since forking a threaded process is unsafe). The output is
    the same, in the same order.
    """
    names = (
        (sorted(index.metrics) if per_metric else [])
        + sorted(index.experiments)
        + sorted(index.monitors)
        + sorted(index.guardrails)
        + sorted(index.kpis)
    )
    groups = metric_groups(index)
    tasks: list[Task] = []
    for backend in backends:
        tasks += [(backend, group, metrics) for group, metrics in groups.items()]
        tasks += [(backend, name, []) for name in names]
    outcomes = _run(index, tasks, workers)
    compiled = [query for done, _ in outcomes for query in done]
    failed = [error for _, errors in outcomes for error in errors]
    return compiled, failed


def _run(index: Index, tasks: list[Task], workers: int) -> list[Outcome]:
    if (
        workers < 2
        or len(tasks) < PARALLEL_MIN_TASKS
        or "fork" not in (multiprocessing.get_all_start_methods())
    ):
        return [_compile_task(index, task) for task in tasks]
    global _FORKED_INDEX
    _FORKED_INDEX = index
    # Interleaved chunks balance the big experiment queries across the workers.
    chunks = [tasks[i::workers] for i in range(workers)]
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results = list(pool.map(_compile_chunk, chunks))
    except BrokenProcessPool:  # a worker died: compile here instead
        return [_compile_task(index, task) for task in tasks]
    finally:
        _FORKED_INDEX = None
    # Workers send back copies of the backends: give each query the caller's own object,
    # so `query.backend is backend` holds whichever way the project was compiled.
    backends = {id(task[0]): task[0] for task in tasks}
    ordered: list[Outcome] = [([], [])] * len(tasks)
    for offset, chunk_results in enumerate(results):
        for position, (done, errors) in enumerate(chunk_results):
            index_ = offset + position * workers
            own = backends[id(tasks[index_][0])]
            ordered[index_] = ([replace(q, backend=own) for q in done], errors)
    return ordered


def write_all(compiled: list[CompiledQuery], out: Path, *, complete: bool = True) -> list[Path]:
    """Write the files (only when their content changed), drop stale `.sql` files in the
    folders metricspec owns, and write `manifest.json` with each file's hash.

    Every file is written atomically, inside `out` (see `metricspec.outputs`). The old
    manifest is removed first and the new one written last, only when every write succeeded
    and the compilation was `complete` (nothing failed to compile): every file a manifest
    lists is there with that hash, and the folders of the backends compiled hold nothing
    else (other backends' folders are left as they were). Raises `OutputError` when a file
    cannot be written.
    """
    ensure_folder(out)
    remove(out / "manifest.json")
    written: list[Path] = []
    paths = {query.path: inside(out, *query.parts) for query in compiled}
    for query in compiled:
        path = paths[query.path]
        if _content(path) != query.sql:
            write_text(path, query.sql)
            written.append(path)
    expected = set(paths.values())
    for backend in sorted({q.parts[0] for q in compiled}):
        for folder in sorted(set(FOLDERS.values())):
            for stale in sorted((out / backend / folder).glob("*.sql")):
                if stale not in expected:
                    remove(stale)
    if complete:
        manifest = {
            "generator": "metricspec",
            "files": {
                q.path: hashlib.sha256(q.sql.encode()).hexdigest()
                for q in sorted(compiled, key=lambda q: q.path)
            },
        }
        write_text(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return written


def _content(path: Path) -> str | None:
    """The text of an existing output file, None when there is none to compare with (or
    something else is there: a folder, a FIFO that would block the read)."""
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None
