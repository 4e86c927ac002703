"""Compiling a project again after a change: what the change reaches is parsed, checked and
compiled; everything else is taken from what the last build left (`metricspec compile`).

A build with the compile cache leaves a `Snapshot`, under a key of the tool, the file names,
the backends and `per_metric`: each file's text key and parse diagnostics, the check's
snapshot (`check.incremental`: each object's summary, the diagnostics), each metric's source
group and each query's cache key. The next build reads every file's text; then

* nothing changed: the diagnostics are the snapshot's and each query's SQL is read from the
  pack by its key: no spec object is loaded;
* some files changed: those are parsed; the objects the change affects (`check.incremental`)
  are loaded from their files' parse entries with everything they mention and the other
  metrics of their source groups; the rules run over those (`incremental.recheck`); their
  queries get keys from them and are read from the cache or compiled; every other query
  keeps its key and SQL;
* anything else (no snapshot, a file added, removed or unreadable, errors before or after,
  a lock file that cannot be read, another day for a project with one, a change `recheck`
  does not take, an entry missing from the cache, a query that fails) builds in full, as
  `Workspace.load` and `compile_all` do, and leaves a snapshot for the next time.

The plan of a query taken from the snapshot is read when asked for, from the whole project
(loaded from the cache then). `tests/workflow/test_rebuild.py` compares builds over chains
of changes with full builds without a cache.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from metricspec import ir
from metricspec.backends import Backend
from metricspec.cache import Cache, key
from metricspec.collector import paused
from metricspec.diagnostics import Diagnostic, Judged, SourceCache, render
from metricspec.parse import ParseResult, assemble, load, parse_source, read_files
from metricspec.parse.yaml_hints import in_file_syntax
from metricspec.pipeline import Compiled, CompileError, compile_all, metric_groups
from metricspec.pipeline.batch import Progress, Tally, Task, compile_cached, pack_name, store_pack
from metricspec.pipeline.cached import QueryKeys, lazy_compiled
from metricspec.pipeline.kinds import Kind, Plan, group_of
from metricspec.semantic import Index
from metricspec.workspace import check_cached, counted, judged_day, lock_of, spec_paths

if TYPE_CHECKING:
    from metricspec.check import incremental
    from metricspec.check.incremental import Key, Summary
    from metricspec.lockfile import Lock

# Compiled one by one, after the source groups, in this order (as `compile_all` does).
_OBJECT_KINDS: tuple[tuple[Kind, str], ...] = (
    ("experiment", "experiments"), ("monitor", "monitors"), ("guardrail", "guardrails"),
    ("kpi", "kpis"))


@dataclass(frozen=True)
class Snapshot:
    """What a build left for the next one (see the module)."""

    files: dict[str, str]  # name -> key of its text
    parsed: dict[str, tuple[Diagnostic, ...]]  # name -> what parsing it found (no errors)
    check: incremental.Snapshot
    groups: dict[str, str]  # metric -> its source group
    queries: dict[tuple[str, str, str], str]  # (backend, kind, name) -> the query's key
    today: dt.date | None = None  # with a lock file: the day running experiments were judged


def _store(cache: Cache, slot: str, snapshot: Snapshot, since: frozenset[str],
           token: str | None) -> None:
    """Store `snapshot` for the next build: its objects' summaries (most of its bytes) in
    an entry of their own, `token`, written again only when there is none or more than a
    tenth of the files changed since it was (`since`: those files); the rest, with the
    summaries of the objects of the files in `since`, every time."""
    from metricspec.check import incremental

    check = snapshot.check
    if token is None or len(since) * 10 > len(snapshot.files):
        token = key(slot, *snapshot.files.values())
        cache.put("build", key(slot, "objects"), (token, check.objects))
        since = frozenset()
    delta = {k: v for k, v in check.objects.items() if v[incremental.PLACE][0] in since}
    cache.put("build", slot, (token, since, replace(
        snapshot, check=incremental.Snapshot(delta, check.diagnostics, check.owners))))


def _stored(cache: Cache, slot: str) -> tuple[Snapshot, frozenset[str], str] | None:
    """The snapshot `_store` stored, the files changed since its objects' entry, and that
    entry's token."""
    from metricspec.check import incremental

    found = cache.get("build", slot)
    if not (isinstance(found, tuple) and len(found) == 3 and isinstance(found[2], Snapshot)):
        return None
    token, since, snapshot = found
    base = cache.get("build", key(slot, "objects"))
    check = snapshot.check
    if not (isinstance(base, tuple) and len(base) == 2 and base[0] == token
            and isinstance(check, incremental.Snapshot)):
        return None
    objects = {k: v for k, v in base[1].items() if v[incremental.PLACE][0] not in since}
    objects.update(check.objects)
    return replace(snapshot, check=incremental.Snapshot(
        objects, check.diagnostics, check.owners)), since, token


class _Hooks(NamedTuple):
    progress: Progress | None
    ready: Callable[[str], None] | None


@dataclass
class Build(Judged):
    """A project loaded, checked and, without errors, compiled."""

    diagnostics: list[Diagnostic]
    texts: dict[str, str]
    counts: tuple[int, int, int, int, int, int]  # files, sources, metrics, KPI trees, ...
    compiled: list[Compiled] = field(default_factory=list)
    failed: list[CompileError] = field(default_factory=list)
    incremental: bool = False  # from the last build's snapshot, not in full
    seconds: dict[str, float] = field(default_factory=dict)  # parse, check, compile

    def render(self, fmt: str = "text", width: int | None = None) -> str:
        return render(self.diagnostics, fmt, SourceCache(self.texts), width)

    def summary(self) -> str:
        return counted(*self.counts)


def build(paths: Sequence[str | Path], backends: Sequence[Backend], *,
          root: Path | None = None, cache: Cache | None = None, per_metric: bool = False,
          workers: int = 1, progress: Progress | None = None,
          ready: Callable[[str], None] | None = None) -> Build:
    """Parse, check and compile the specs under `paths` for `backends` (nothing compiled
    when they have errors), from the last build's snapshot when the `cache` has one that
    applies (see the module); the same result as in full. NoSpecFiles as `Workspace.load`.
    `progress(done, total)` as queries are compiled; `ready(summary)` once the specs are
    checked and have no errors, before compiling (where the command checks that it can
    write its output)."""
    told: list[str] = []  # `ready` once, though a build from the snapshot falls back late

    def once(summary: str) -> None:
        if ready is not None and not told:
            told.append(summary)
            ready(summary)

    hooks = _Hooks(progress, once)
    start = time.perf_counter()
    paths, files = spec_paths(paths)
    backends = tuple(backends)
    if cache is None:
        return _full(paths, files, backends, root, None, per_metric, workers, hooks, "")
    read = read_files(files, root)
    lock, lock_error = lock_of(paths)
    slot = key(cache.fingerprint, "build", *(name for name, _, _ in read),
               *(backend.model_dump_json() for backend in backends), repr(per_metric),
               "" if lock is None else f"{lock.path}\0{lock.dumps()}")
    texts = {name: text for name, text, _ in read if text is not None}
    with paused():  # many small objects, and a project's worth of them alive
        previous = _stored(cache, slot)
        done = None
        if previous is not None and len(texts) == len(read) and lock_error is None:
            waited = cache.prefetch_pack(pack_name(cache, backends))  # read while parsing
            try:
                done = _Rebuild(previous[0], texts, backends, cache, per_metric, workers,
                                lambda: load(files, root, cache), lock).run(hooks, start)
            finally:
                waited()  # no thread left behind: the full build forks
        if done is not None and previous is not None:
            changed = frozenset(name for name, entry in done[1].files.items()
                                if previous[0].files.get(name) != entry)
            _store(cache, slot, done[1], previous[1] | changed, previous[2])
            return done[0]
    return _full(paths, files, backends, root, cache, per_metric, workers, hooks, slot)


def _counts(objects: Sequence[tuple[str, str]], files: int
            ) -> tuple[int, int, int, int, int, int]:
    kinds = [kind for kind, _ in objects]
    return (files, kinds.count("sources"), kinds.count("metrics"), kinds.count("kpis"),
            kinds.count("experiments"), kinds.count("monitors"))


def _tasks(backends: Sequence[Backend], groups: Sequence[str], metrics: Sequence[str],
           objects: Sequence[tuple[Kind, str]], per_metric: bool) -> list[Task]:
    """`compile_all`'s tasks, in its order."""
    kinds: list[tuple[Kind, str]] = [("metrics", group) for group in sorted(groups)]
    kinds += [("metric", metric) for metric in sorted(metrics) if per_metric]
    kinds += list(objects)
    return [(backend, kind, name) for backend in backends for kind, name in kinds]


def _full(paths: Sequence[str | Path], files: list[Path], backends: tuple[Backend, ...],
          root: Path | None, cache: Cache | None, per_metric: bool, workers: int,
          hooks: _Hooks, slot: str) -> Build:
    """The build from nothing (the parse entries and queries in the cache still count);
    with a `slot`, it leaves a snapshot there for the next build."""
    from metricspec.check import incremental

    start = time.perf_counter()
    loaded = load(files, root, cache, workers=workers)
    parsed = time.perf_counter()
    lock, lock_error = lock_of(paths)
    found = check_cached(loaded, backends, lock, lock_error, None, cache, workers)
    diagnostics = sorted(map(in_file_syntax, loaded.diagnostics + found),
                         key=Diagnostic.sort_key)
    checked = time.perf_counter()
    project = loaded.project
    result = Build(diagnostics, loaded.texts, _counts(
        [key for key, _ in incremental.objects(project)], len(project.files)))
    if result.ok:
        if hooks.ready is not None:
            hooks.ready(result.summary())
        index = Index(project)
        result.compiled, result.failed = compile_all(index, backends, per_metric=per_metric,
                                                     workers=workers, cache=cache,
                                                     progress=hooks.progress)
        named = {d.span.file for d in loaded.diagnostics}
        if cache is not None and slot and not result.failed and (
                lock_error is None and named <= loaded.texts.keys()):
            _store(cache, slot, Snapshot(
                files={name: key(cache.fingerprint, name, text)
                       for name, text in loaded.texts.items()},
                parsed={name: tuple(d for d in loaded.diagnostics if d.span.file == name)
                        for name in loaded.texts},
                check=incremental.snapshot(incremental.summarize(project, cache.description),
                                           found),
                groups={metric: group for group, members in metric_groups(index).items()
                        for metric in members},
                queries={(q.backend.name, q.kind, q.name): q.key for q in result.compiled},
                today=None if lock is None else judged_day(index)), frozenset(), None)
    result.seconds = {"parse": parsed - start, "check": checked - parsed,
                      "compile": time.perf_counter() - checked}
    return result


class _Rebuild:
    """One build from a snapshot; `run` gives it and the next snapshot, or None."""

    def __init__(self, previous: Snapshot, texts: dict[str, str],
                 backends: tuple[Backend, ...], cache: Cache, per_metric: bool,
                 workers: int, whole: Callable[[], object], lock: Lock | None) -> None:
        self.previous, self.texts, self.backends = previous, texts, backends
        self.lock = lock
        self.cache, self.per_metric, self.workers = cache, per_metric, workers
        self._whole = whole  # loads the whole project (for a plan asked for)
        self._keys: QueryKeys | None = None
        self.parsed: dict[str, ParseResult] = {}

    def run(self, hooks: _Hooks, start: float
            ) -> tuple[Build, Snapshot] | None:
        from metricspec.check import check, incremental

        previous, cache = self.previous, self.cache
        files = {name: key(cache.fingerprint, name, text) for name, text in self.texts.items()}
        if files.keys() != previous.files.keys():
            return None
        changed = {name for name, entry in files.items() if entry != previous.files[name]}
        now = {k: s for k, s in previous.check.objects.items()
               if s[incremental.PLACE][0] not in changed}
        for name in sorted(changed):
            parse = self.parsed[name] = cache.parsed(name, self.texts[name], parse_source)
            if parse.broken or any(d.is_error for d in parse.diagnostics):
                return None
            for obj in parse.objects:
                found = incremental.key_of(obj)
                if found is None or found in now:  # a calendar, or twice
                    return None
                now[found] = incremental.summary(obj, cache.description)
        parsed = time.perf_counter()
        change = incremental.change(previous.check, now)
        if change is None:
            return None
        members: dict[str, list[str]] = {}
        for metric, group in previous.groups.items():
            members.setdefault(group, []).append(metric)
        metrics = {name for kind, name in change.affected if kind == "metrics"}
        touched = {previous.groups[m] for m in metrics if m in previous.groups}
        loaded = incremental.mentioned(now, change.loaded | {
            ("metrics", m) for group in touched for m in members[group]})
        project = self._part(now, loaded)
        if project is None:
            return None
        index = Index(project)
        regrouped = {metric: group_of(index, metric) for metric in metrics}
        more = {("metrics", m) for group in set(regrouped.values()) - touched
                for m in members.get(group, ())}
        if not more <= loaded:  # a metric moved to a group none of these was in
            loaded = incremental.mentioned(now, loaded | more)
            project = self._part(now, loaded)
            if project is None:
                return None
            index = Index(project)
        today = None if self.lock is None else judged_day(index)
        if today != previous.today:  # experiments judged running on another day
            return None
        judged = incremental.recheck(previous.check, now, project, change, lambda part: check(
            part, backends=self.backends, lock=self.lock, today=today))
        if judged is None:
            return None
        diagnostics = [d for name in self.texts for d in (
            self.parsed[name].diagnostics if name in changed else previous.parsed[name])]
        diagnostics = sorted(map(in_file_syntax, diagnostics + list(judged.diagnostics)),
                             key=Diagnostic.sort_key)
        checked = time.perf_counter()
        counts = _counts(list(now), len(self.texts))
        if hooks.ready is not None:
            hooks.ready(counted(*counts))
        groups = previous.groups | regrouped
        done = self._compile(index, now, groups, change.affected, touched | set(
            regrouped.values()), hooks.progress)
        if done is None:
            return None
        compiled, queries = done
        result = Build(diagnostics, self.texts, counts,
                       compiled, incremental=True, seconds={
                           "parse": parsed - start, "check": checked - parsed,
                           "compile": time.perf_counter() - checked})
        return result, Snapshot(files, {
            name: tuple(self.parsed[name].diagnostics) if name in changed
            else previous.parsed[name] for name in self.texts},
            judged, groups, queries, today)

    def _part(self, now: dict[Key, Summary], keys: frozenset[Key]) -> ir.Project | None:
        """The project with the objects of `keys` and every calendar, read from the
        files that hold them (None when a file's parse entry is not in the cache)."""
        from metricspec.check import incremental

        wanted = {now[k][incremental.PLACE][0] for k in keys}
        objects: list[object] = []
        for name, text in self.texts.items():
            if name not in wanted:
                continue
            result = self.parsed.get(name) or self.cache.find_parsed(name, text)
            if result is None:
                return None
            self.parsed.setdefault(name, result)
            objects += [obj for obj in result.objects
                        if isinstance(obj, ir.Calendar) or incremental.key_of(obj) in keys]
        return assemble(self.texts, objects)

    def _compile(self, index: Index, now: dict[Key, Summary],
                 groups: dict[str, str], affected: frozenset[Key],
                 touched: set[str], progress: Progress | None
                 ) -> tuple[list[Compiled], dict[tuple[str, str, str], str]] | None:
        """Every query: those of `affected` objects and `touched` groups keyed from
        `index` and read or compiled, the others taken from the snapshot by key."""
        objects = [(kind, name) for kind, field_ in _OBJECT_KINDS
                   for name in sorted(n for k, n in now if k == field_)]
        tasks = _tasks(self.backends, sorted(set(groups.values())), sorted(groups), objects,
                       self.per_metric)
        fields = dict(_OBJECT_KINDS) | {"metric": "metrics"}
        keys = QueryKeys(index, self.cache.fingerprint, self.cache.description)
        names, again = [], []
        for position, (backend, kind, name) in enumerate(tasks):
            if (name in touched if kind == "metrics" else (fields[kind], name) in affected):
                names.append(keys.query(kind, name, backend))
                again.append(position)
            else:
                entry = self.previous.queries.get((backend.name, kind, name))
                if entry is None:
                    return None
                names.append(entry)
        pack = pack_name(self.cache, self.backends)
        packed = self.cache.get_pack(pack, names)
        values = {} if packed is None else packed
        tally = Tally(len(tasks), progress)
        compiled: list[Compiled | None] = [None] * len(tasks)
        redone = set(again)
        for position, (backend, kind, name) in enumerate(tasks):
            if position in redone:
                continue
            entry = names[position]
            found = values.get(entry) or self.cache.get("sql", entry)
            if not isinstance(found, tuple) or len(found) not in (2, 3):
                return None
            values[entry] = found[:2]
            compiled[position] = lazy_compiled(kind, name, backend, found[0], found[1], entry,
                                               partial(self._plan, kind, name, entry))
        tally.add(len(tasks) - len(again))
        outcomes = compile_cached(keys, [tasks[i] for i in again], [names[i] for i in again],
                                  self.cache, values, self.workers, tally)
        for position, (done, failed) in zip(again, outcomes, strict=True):
            if failed or len(done) != 1:
                return None
            compiled[position] = done[0]
        store_pack(self.cache, pack, names, values, None if packed is None else len(packed))
        return ([query for query in compiled if query is not None],
                {(backend.name, kind, name): entry
                 for (backend, kind, name), entry in zip(tasks, names, strict=True)})

    def _plan(self, kind: Kind, name: str, entry: str) -> Plan:
        """The plan of a query taken from the snapshot, from the whole project."""
        from metricspec.pipeline.batch import stored_plan

        if self._keys is None:
            whole = self._whole()
            self._keys = QueryKeys(Index(whole.project),  # type: ignore[attr-defined]
                                   self.cache.fingerprint, self.cache.description)
        return self._keys.load_plan(kind, name, partial(stored_plan, self.cache, entry))
