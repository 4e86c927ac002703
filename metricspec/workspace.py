"""A loaded and checked spec folder: the entry point for the CLI and for notebooks.

    >>> ws = Workspace.load("specs")                         # doctest: +SKIP
    >>> ws.ok, len(ws.project.metrics)                       # doctest: +SKIP
    (True, 24)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from metricspec import ir
from metricspec.backends import Backend
from metricspec.check import check
from metricspec.diagnostics import Diagnostic, Severity, SourceCache, error, render
from metricspec.emit.compile import compile_all
from metricspec.parse import load, spec_files
from metricspec.semantic import Index


class NoSpecFiles(ValueError):
    """Raised when the given paths hold no `.mspec`/`.yaml` files."""


@dataclass
class Workspace:
    """Specs read from files, with every diagnostic the parser and checker found."""

    project: ir.Project
    diagnostics: list[Diagnostic]
    texts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, *paths: str | Path, backends: Iterable[Backend] = ()) -> Workspace:
        """Parse and check every spec file under `paths` (files or folders)."""
        paths = paths or ("specs",)
        missing = [str(p) for p in paths if not Path(p).exists()]
        if missing:
            raise NoSpecFiles(f"no such file or folder: {', '.join(missing)}")
        if not spec_files(paths):
            raise NoSpecFiles(f"no .mspec or .yaml spec files under {', '.join(map(str, paths))}")
        loaded = load(paths)
        backends = tuple(backends)
        found = check(loaded.project, broken=loaded.broken, backends=backends)
        diagnostics = loaded.diagnostics + found
        if backends and not any(d.is_error for d in diagnostics):
            diagnostics += _compile_diagnostics(loaded.project, backends)
        diagnostics.sort(key=Diagnostic.sort_key)
        return cls(project=loaded.project, diagnostics=diagnostics, texts=loaded.texts)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def index(self) -> Index:
        return Index(self.project)

    def render(self, fmt: str = "text", diagnostics: Sequence[Diagnostic] | None = None) -> str:
        """Diagnostics as text (with carets), JSON, or GitHub annotations."""
        chosen = self.diagnostics if diagnostics is None else diagnostics
        return render(chosen, fmt, SourceCache(self.texts))

    def summary(self) -> str:
        p = self.project
        counts = [(len(p.files), "file"), (len(p.sources), "source"), (len(p.metrics), "metric"),
                  (len(p.kpis), "KPI tree"), (len(p.experiments), "experiment"),
                  (len(p.monitors), "monitor")]
        return ", ".join(f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts)


def _compile_diagnostics(project: ir.Project, backends: Sequence[Backend]) -> list[Diagnostic]:
    """Compile everything for the chosen backends; what fails becomes MS702 at the object."""
    index = Index(project)
    _, failed = compile_all(index, backends)
    out = []
    for failure in failed:
        obj = (index.metrics.get(failure.name) or index.experiments.get(failure.name)
               or index.monitors.get(failure.name) or index.guardrails.get(failure.name)
               or index.kpis.get(failure.name))
        span = obj.span if obj is not None else ir.Span.unknown()
        out.append(error("MS702", f"{failure.kind} `{failure.name}` cannot be compiled for "
                         f"{failure.backend}: {failure.reason}", span))
    return out
