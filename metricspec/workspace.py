"""A loaded and checked spec folder: the entry point for the CLI and for notebooks.

Both call the same functions: `pipeline` to compile, `run.execute` to run, `analyze` to
analyse (imported when used, so loading and checking specs imports none of them).

    >>> ws = Workspace.load("specs")                              # doctest: +SKIP
    >>> ws.ok, len(ws.project.metrics)                            # doctest: +SKIP
    (True, 27)
    >>> outcome = ws.run("summarizer_v2", "duckdb:///metricspec.duckdb")  # doctest: +SKIP
    >>> outcome.result.decision.outcome, outcome.metrics().to_pandas()    # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metricspec import ir
from metricspec.backends import Backend
from metricspec.collector import paused
from metricspec.diagnostics import Diagnostic, Judged, SourceCache, error, render
from metricspec.lockfile import Lock
from metricspec.parse import Loaded, load, spec_files
from metricspec.parse.yaml_hints import in_file_syntax
from metricspec.semantic import Index

if TYPE_CHECKING:
    from metricspec.cache import Cache

DEFAULT_WAREHOUSE = "duckdb:///metricspec.duckdb"


class NoSpecFiles(ValueError):
    """Raised when the given paths hold no `.mspec`/`.yaml` files (MS109)."""

    code = "MS109"


@dataclass
class Workspace(Judged):
    """Specs read from files, with every diagnostic the parser and checker found."""

    project: ir.Project
    diagnostics: list[Diagnostic]
    texts: dict[str, str] = field(default_factory=dict)

    lock: Lock | None = None  # the project's metricspec.lock, when it has one
    paths: tuple[str, ...] = ()  # the spec paths it was loaded from

    @classmethod
    def load(cls, *paths: str | Path, backends: Iterable[Backend] = (),
             today: dt.date | None = None, root: Path | None = None,
             cache: Cache | None = None, compile_check: bool = True,
             workers: int = 1) -> Workspace:
        """Parse and check every spec file under `paths` (files or folders); a
        `metricspec.lock` beside the spec folder is checked against `today`; with `root`,
        files are named relative to it (see `metricspec.parse.load`); with a `cache`
        (`metricspec.cache`), files and queries compiled before are read from it.

        With `backends`, what they cannot compute is checked too, and, unless
        `compile_check` is off (for a command that compiles next and reports its own
        failures), everything is compiled for them as `check --dialect` does. `workers`:
        processes that parse and check a large project at once (`parse.load`)."""
        paths, files = spec_paths(paths)
        loaded = load(files, root, cache, workers=workers)
        backends = tuple(backends)
        lock, lock_error = lock_of(paths)
        found = check_cached(loaded, backends, lock, lock_error, today, cache, workers)
        diagnostics = loaded.diagnostics + found
        if backends and compile_check and not any(d.is_error for d in diagnostics):
            diagnostics += _compile_diagnostics(loaded.project, backends, cache)
        diagnostics = sorted(map(in_file_syntax, diagnostics), key=Diagnostic.sort_key)
        return cls(project=loaded.project, diagnostics=diagnostics, texts=loaded.texts,
                   lock=lock, paths=tuple(map(str, paths)))

    @cached_property
    def index(self) -> Index:
        return Index(self.project)

    def render(self, fmt: str = "text", diagnostics: Sequence[Diagnostic] | None = None,
               width: int | None = None) -> str:
        """Diagnostics as text (with carets; snippets fit `width` columns when given), JSON,
        or GitHub annotations."""
        chosen = self.diagnostics if diagnostics is None else diagnostics
        return render(chosen, fmt, SourceCache(self.texts), width)

    def summary(self) -> str:
        p = self.project
        return counted(len(p.files), len(p.sources), len(p.metrics), len(p.kpis),
                       len(p.experiments), len(p.monitors))

    # ------------------------------------------------------------ notebooks

    def engine_errors(self, backends: Iterable[Backend], uses: Iterable[str] = ()
                      ) -> list[Diagnostic]:
        """What `backends` cannot compute in a project `check` accepted, as `check --dialect`
        reports it (`check.check_backends`), among the metrics
        of the objects named in `uses` (every object when none; errors outside any metric's
        expression, a source's, always count): a metric a command does not use may be one
        only another warehouse computes."""
        from metricspec.check import check_backends

        found = [d for d in check_backends(self.project, backends) if d.is_error]
        names = list(uses)
        if not names:
            return found
        every = self.index.metrics
        used = [every[m] for n in names for m in self.index.metrics_of(n)]
        return [d for d in found if any(_inside(d, m) for m in used)
                or not any(_inside(d, m) for m in every.values())]

    def checked_index(self, backend: Backend | None = None, uses: Iterable[str] = ()) -> Index:
        """The index of a project without errors (nor any `backend` cannot compute among the
        objects it `uses`, `engine_errors`); a ValueError lists them otherwise."""
        errors = self.errors
        if not errors and backend is not None:
            errors = self.engine_errors([backend], uses)
        if errors:
            raise ValueError(f"the specs have {len(errors)} error(s):\n"
                             f"{self.render('text', errors)}")
        return self.index

    def sql(self, name: str, dialect: str = "duckdb", **options: Any) -> str:
        """The SQL of one object, as `metricspec sql` prints it (`options`: the request's
        `grain`, `dimensions`, `start`, `end`)."""
        from metricspec.backends import get_backend
        from metricspec.pipeline import compile_object

        backend = get_backend(dialect)
        return compile_object(self.checked_index(backend, [name]), name, backend,
                              **options).sql

    def run(self, experiment: str, warehouse: str = DEFAULT_WAREHOUSE) -> ExperimentOutcome:
        """Compile, run and analyse an experiment, as `metricspec run` does: with the
        definitions `metricspec.lock` pinned it to (`pinning.PinnedError` when they cannot
        be recovered)."""
        from metricspec.analyze import analyze_rows
        from metricspec.pinning import pinned_index
        from metricspec.run.connections import connect
        from metricspec.run.execute import run_experiment

        pinned = pinned_index(self.checked_index(), self.lock, experiment,
                              Path(self.paths[0] if self.paths else "specs"))
        with connect(warehouse) as conn:
            run = run_experiment(pinned.index, experiment, conn)
        return ExperimentOutcome(run.plan, run.rows, analyze_rows(run.plan, run.rows),
                                 pinned.line)

    def query(self, metrics: Sequence[str], warehouse: str = DEFAULT_WAREHOUSE, *,
              grain: str = "day", dimensions: Sequence[str] = (), since: Any = None,
              until: Any = None) -> Any:
        """Metrics by period (and dimensions) as a pyarrow Table."""
        import pyarrow as pa

        from metricspec.plan.metric_query import Grain
        from metricspec.run.connections import connect
        from metricspec.run.execute import run_metrics

        with connect(warehouse) as conn:
            rows = run_metrics(self.checked_index(), list(metrics), conn,
                               grain=Grain.parse(grain), dimensions=tuple(dimensions),
                               since=since, until=until)
        return pa.Table.from_pylist(rows)


def check_cached(loaded: Loaded, backends: tuple[Backend, ...], lock: Lock | None,
                 lock_error: tuple[str, str] | None, today: dt.date | None,
                 cache: Cache | None, workers: int = 1) -> list[Diagnostic]:
    """`check` of the loaded project, read from the cache when this tool checked the same
    files (names and texts) with the same backends, lock file and day before: `check` reads
    nothing else, so an entry is never stale. The day counts only where it is read (pinned
    experiments are judged running or not on it), and is fixed before checking.

    After a change, the check of the same files (by name) with the same settings left a
    snapshot (`check.incremental`): the rules run again only over what the change affects
    when that gives what a full check gives, and over everything otherwise."""
    def run(project: ir.Project, processes: int) -> list[Diagnostic]:
        from metricspec.check import check  # the rules (and sqlglot) only when they run

        return check(project, broken=loaded.broken, backends=backends, lock=lock,
                     lock_error=lock_error, today=today, workers=processes)

    if cache is None:
        return run(loaded.project, workers)
    from metricspec.cache import key

    if lock is not None and not lock_error and today is None:
        today = judged_day(Index(loaded.project))
    settings = (repr(sorted(loaded.broken)), *(b.model_dump_json() for b in backends),
                "" if lock is None else f"{lock.path}\0{lock.dumps()}", repr(lock_error),
                str(today) if lock is not None else "")
    entry = key(cache.fingerprint, "check",
                *(part for name, text in loaded.texts.items() for part in (name, text)),
                *settings)
    found = cache.get("check", entry)
    if isinstance(found, list) and all(isinstance(d, Diagnostic) for d in found):
        return found
    from metricspec.check import incremental

    slot = key(cache.fingerprint, "check-snapshot", *loaded.texts, *settings)
    with paused():  # many small tuples; a collection would walk the whole project
        previous = cache.get("check", slot)
        now = incremental.summarize(loaded.project, cache.description)
        judged = None
        found = (incremental.change(previous, now)
                 if isinstance(previous, incremental.Snapshot) else None)
        if found is not None and isinstance(previous, incremental.Snapshot):
            judged = incremental.recheck(
                previous, now, incremental.part(loaded.project, found.loaded), found,
                lambda part: run(part, 1))
        if judged is None:
            judged = incremental.snapshot(now, run(loaded.project, workers))
        result = list(judged.diagnostics)
        cache.put("check", entry, result)
        cache.put("check", slot, judged)
    return result


def judged_day(index: Index) -> dt.date:
    """The day a project with a lock file has its running experiments judged on: today in
    its calendar's zone, or `METRICSPEC_TODAY` (fixed once per check, and kept with it)."""
    from metricspec.check.pinned import today_or_override

    return today_or_override(index.calendar.timezone)


def counted(files: int, sources: int, metrics: int, kpis: int, experiments: int,
            monitors: int) -> str:
    """`3 files, 5 sources, 27 metrics, …`: what a project holds, as commands print it."""
    counts = [(files, "file"), (sources, "source"), (metrics, "metric"), (kpis, "KPI tree"),
              (experiments, "experiment"), (monitors, "monitor")]
    return ", ".join(f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts)


def spec_paths(paths: Sequence[str | Path]) -> tuple[tuple[str | Path, ...], list[Path]]:
    """`paths` (default: `specs`) and the spec files under them, or NoSpecFiles when one
    is missing or none holds a spec file."""
    paths = tuple(paths) or ("specs",)
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise NoSpecFiles(f"no such file or folder: {', '.join(missing)}")
    files = spec_files(paths)
    if not files:
        raise NoSpecFiles(f"no .mspec or .yaml spec files under {', '.join(map(str, paths))}")
    return paths, files


def lock_of(paths: Sequence[str | Path]) -> tuple[Lock | None, tuple[str, str] | None]:
    """The lock file beside the spec folder, or why it cannot be read."""
    from metricspec.lockfile import LockError, find_lock, read

    path = find_lock(paths)
    if path is None:
        return None, None
    try:
        return read(path), None
    except LockError as exc:
        return None, (str(path), str(exc))


def _inside(d: Diagnostic, metric: ir.Metric) -> bool:
    """Whether `d` points into the expression of `metric`."""
    s = metric.expr.span
    return d.span.file == s.file and (
        (s.line, s.column) <= (d.span.line, d.span.column) <= (s.end_line, s.end_column))


def _compile_diagnostics(project: ir.Project, backends: Sequence[Backend],
                         cache: Cache | None = None) -> list[Diagnostic]:
    """Compile everything for the chosen backends; what fails becomes MS702 at the object."""
    from metricspec.pipeline import compile_all

    index = Index(project)
    _, failed = compile_all(index, backends, cache=cache)
    out = []
    for failure in failed:
        found = index.find(failure.name)
        span = found[1].span if found else ir.Span.unknown()
        out.append(error("MS702", f"{failure.kind} `{failure.name}` cannot be compiled for "
                         f"{failure.backend}: {failure.reason}", span))
    return out


@dataclass(frozen=True)
class ExperimentOutcome:
    """An experiment run: its plan, the sufficient statistics and the analysis."""

    plan: Any
    rows: list[dict[str, Any]]
    result: Any  # metricspec.stats.AnalysisResult
    pinned: str = ""  # "definitions pinned: <short hash> (metricspec.lock)" when pinned

    def statistics(self) -> Any:
        """The sufficient statistics as a pyarrow Table (requires pyarrow)."""
        import pyarrow as pa

        return pa.Table.from_pylist(self.rows)

    def metrics(self) -> Any:
        """One row per metric × treatment × segment, as a pyarrow Table."""
        import pyarrow as pa

        rows = []
        for m in self.result.metrics:
            rel, ab = m.relative, m.absolute
            rows.append({
                "metric": m.metric, "role": m.role, "treatment": m.treatment.variant,
                "segment": m.segment, "segment_value": m.segment_value,
                "control": m.control.value, "treatment_value": m.treatment.value,
                "absolute": ab.estimate if ab else None,
                "lift": rel.estimate if rel else None,
                "ci_lower": rel.ci_lower if rel else None,
                "ci_upper": rel.ci_upper if rel else None,
                "p_value": m.p_value, "adjusted_p_value": m.adjusted_p_value,
                "verdict": str(m.verdict)})
        return pa.Table.from_pylist(rows)
