"""Parsing: spec files (DSL `.mspec` and `.yaml`) → one IR `Project` plus diagnostics.

May import: `metricspec.ir`, `metricspec.diagnostics`, `metricspec.resources`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from metricspec import ir
from metricspec.diagnostics import Diagnostic, error
from metricspec.parse.dsl import ParseResult, parse_text
from metricspec.parse.yaml_spec import parse_yaml

DSL_SUFFIXES = (".mspec",)
YAML_SUFFIXES = (".yaml", ".yml")

_KINDS: dict[type, str] = {
    ir.Source: "sources", ir.Metric: "metrics", ir.Kpi: "kpis", ir.Guardrail: "guardrails",
    ir.Experiment: "experiments", ir.Monitor: "monitors",
}


@dataclass
class Loaded:
    """A parsed spec folder: the project, what went wrong, and the file texts (for carets)."""

    project: ir.Project
    diagnostics: list[Diagnostic] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    broken: set[tuple[str, str]] = field(default_factory=set)


def spec_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every spec file under the given files and folders, in a stable order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*"))
                         if p.is_file() and p.suffix in DSL_SUFFIXES + YAML_SUFFIXES
                         and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            found.append(path)
    unique: dict[str, Path] = {}
    for p in found:
        unique.setdefault(str(p), p)
    return list(unique.values())


def parse_source(text: str, file: str) -> ParseResult:
    """Parse one file's text, choosing the front end by its suffix."""
    if file.endswith(YAML_SUFFIXES):
        return parse_yaml(text, file)
    return parse_text(text, file)


def load(paths: Iterable[str | Path]) -> Loaded:
    """Read and parse every spec file under `paths` into one `Project`."""
    files = spec_files(paths)
    buckets: dict[str, list[object]] = {kind: [] for kind in _KINDS.values()}
    loaded = Loaded(project=ir.Project(span=ir.Span.unknown()))
    for path in files:
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            loaded.diagnostics.append(error("MS100", f"no such file: {name}",
                                            ir.Span.unknown(name)))
            continue
        except UnicodeDecodeError as exc:
            line, column = _byte_position(exc.object, exc.start)
            loaded.diagnostics.append(error(
                "MS100", f"cannot read {name}: it is not UTF-8 text",
                ir.Span.point(name, line, column), "save the file as UTF-8"))
            continue
        except OSError as exc:
            loaded.diagnostics.append(error("MS100", f"cannot read {name}: {exc}",
                                            ir.Span.unknown(name)))
            continue
        if path.suffix not in DSL_SUFFIXES + YAML_SUFFIXES:
            loaded.diagnostics.append(error(
                "MS100", f"{name} is not a spec file (expected .mspec, .yaml or .yml)",
                ir.Span.unknown(name)))
            continue
        loaded.texts[name] = text
        result = parse_source(text, name)
        loaded.diagnostics.extend(result.diagnostics)
        loaded.broken |= result.broken
        for obj in result.objects:
            buckets[_KINDS[type(obj)]].append(obj)
    loaded.project = ir.Project(span=ir.Span.unknown(), files=tuple(loaded.texts),
                                **{k: tuple(v) for k, v in buckets.items()})
    return loaded


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    r"""The 1-based line and column (counted in characters) of byte `offset`.

    >>> _byte_position(b"caf\xc3\xa9\nab\xff", 8)
    (2, 3)
    """
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


__all__ = ["Loaded", "ParseResult", "load", "parse_source", "spec_files"]
