"""Parsing: spec files (DSL `.mspec` and `.yaml`) → one IR `Project` plus diagnostics.

May import: `metricspec.ir`, `metricspec.diagnostics`, `metricspec.resources`,
`metricspec.cache` (a file parsed before by the same tool is read from the cache).
"""

from __future__ import annotations

import gc
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from metricspec import ir
from metricspec.collector import paused
from metricspec.diagnostics import Diagnostic, error
from metricspec.parse.result import ParseResult

if TYPE_CHECKING:
    from metricspec.cache import Cache, Description

DSL_SUFFIXES = (".mspec",)
YAML_SUFFIXES = (".yaml", ".yml")
# Ten times the largest spec file we know of; parsing one this size takes seconds. Larger
# files (or `/dev/zero`) are refused before they are read.
MAX_SPEC_BYTES = 1024 * 1024

# Work worth a forked parser of its own (bytes of spec text: about 130 metrics), and what a
# child's file costs against one parsed here (it is pickled there and read back here).
_BYTES_PER_PART = 48 * 1024
_CHILD_COST = 1.25

# Objects allocated while parsing (about 65 a metric) after which `load` collects once.
_COLLECT_AFTER = 200_000

_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
         (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))

_KINDS: dict[type, str] = {
    ir.Source: "sources", ir.Metric: "metrics", ir.Kpi: "kpis", ir.Guardrail: "guardrails",
    ir.Experiment: "experiments", ir.Monitor: "monitors", ir.Calendar: "calendars",
}


@dataclass
class Loaded:
    """A parsed spec folder: the project, what went wrong, and the file texts (for carets)."""

    project: ir.Project
    diagnostics: list[Diagnostic] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    broken: set[tuple[str, str]] = field(default_factory=set)


def spec_files(paths: Iterable[str | Path] | str | Path) -> list[Path]:
    """Every spec file under the given files and folders, in a stable order. One path may
    be given alone (a string is a path, not an iterable of one-letter paths)."""
    if isinstance(paths, str | Path):
        paths = [paths]
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


def parse_text(text: str, file: str) -> ParseResult:
    """Parse one DSL spec file (`parse.dsl`). Its parser (Lark) is imported with the first
    file parsed: a project read back from the compile cache starts without it."""
    from metricspec.parse.dsl import parse_text as parse

    return parse(text, file)


def parse_yaml(text: str, file: str) -> ParseResult:
    """Parse one YAML spec file (`parse.yaml_spec`). Its readers (ruamel, PyYAML) are
    imported with the first YAML file: a project of `.mspec` files starts without them."""
    from metricspec.parse.yaml_spec import parse_yaml as parse

    return parse(text, file)


def parse_source(text: str, file: str) -> ParseResult:
    """Parse one file's text, choosing the front end by its suffix."""
    if file.endswith(YAML_SUFFIXES):
        return parse_yaml(text, file)
    return parse_text(text, file)


def load(paths: Iterable[str | Path] | str | Path, root: Path | None = None,
         cache: Cache | None = None, *, workers: int = 1) -> Loaded:
    """Read and parse every spec file under `paths` into one `Project`; with `root`, files
    inside it are named relative to it (POSIX), so spans and outputs are the same from any
    folder and on any machine. With a `cache`, a file this tool parsed before (same name,
    same text) is not parsed again. With `workers` > 1, a large project's files are parsed
    by that many processes at once (forked: see `metricspec.forked`; the command line does
    this, a library caller with threads of its own keeps the default); the result is the
    same."""
    with paused() as enabled:  # parsing makes the project's objects and almost no cycles
        loaded = _load(spec_files(paths), root, cache, workers)
        # settled before the collector is back: its first allocation would start a
        # collection of the whole project, still in the youngest generation
        if enabled and gc.get_count()[0] > _COLLECT_AFTER:
            _settle()
    return loaded


def _settle() -> None:
    """After a large project, its objects are moved straight to the oldest generation
    (`freeze` then `unfreeze`: no walk), rather than letting the next stage's collections
    promote them through every generation, or collecting once (linear in the project:
    0.25-0.6 s at 10,000 metrics, as much as reading them from the compile cache). A
    caller's own frozen objects are left frozen: then one full collection does it."""
    if gc.get_freeze_count():
        gc.collect()
    else:
        gc.freeze()
        gc.unfreeze()


Read = tuple[str, str | None, list[Diagnostic]]  # a file's name, its text, why not read


def read_files(files: Iterable[Path], root: Path | None = None) -> list[Read]:
    """Each spec file's name (relative to `root`, as `load` names it), its text, or None
    with why it cannot be read."""
    read: list[Read] = []
    for path in files:
        name = str(path) if root is None else _relative(path, root)
        problems: list[Diagnostic] = []
        text = None
        if path.suffix not in DSL_SUFFIXES + YAML_SUFFIXES:
            problems.append(error(
                "MS100", f"{name} is not a spec file (expected .mspec, .yaml or .yml)",
                ir.Span.unknown(name)))
        else:
            text = read_spec(path, problems)
        read.append((name, text, problems))
    return read


def assemble(files: Iterable[str], objects: Iterable[object]) -> ir.Project:
    """The project of these files with these objects (in their order, by kind)."""
    buckets: dict[str, list[object]] = {kind: [] for kind in _KINDS.values()}
    for obj in objects:
        buckets[_KINDS[type(obj)]].append(obj)
    return ir.Project(span=ir.Span.unknown(), files=tuple(files),
                      **{k: tuple(v) for k, v in buckets.items()})


def _load(files: list[Path], root: Path | None, cache: Cache | None, workers: int) -> Loaded:
    read = read_files(files, root)
    texts = [(name, text) for name, text, _ in read if text is not None]
    results = iter(_parse_all(texts, cache, workers))
    objects: list[object] = []
    loaded = Loaded(project=ir.Project(span=ir.Span.unknown()))
    for name, text, problems in read:
        loaded.diagnostics.extend(problems)
        if text is None:
            continue
        loaded.texts[name] = text
        result = next(results)
        loaded.diagnostics.extend(result.diagnostics)
        loaded.broken |= result.broken
        objects.extend(result.objects)
    loaded.project = assemble(loaded.texts, objects)
    return loaded


Parsed = tuple[ParseResult, tuple["Description", ...]]  # and its objects' descriptions


def _parse_all(texts: list[tuple[str, str]], cache: Cache | None,
               workers: int) -> list[ParseResult]:
    """Each (name, text) parsed, or read from the cache; in the order given."""
    results: list[ParseResult | None] = [
        None if cache is None else cache.find_parsed(name, text) for name, text in texts]
    todo = [i for i, result in enumerate(results) if result is None]
    parts = _split([len(texts[i][1]) for i in todo], workers)
    if len(parts) < 2:
        for i in todo:
            name, text = texts[i]
            results[i] = result = parse_source(text, name)
            if cache is not None:
                cache.keep_parsed(name, text, result)
        return results  # type: ignore[return-value]
    from metricspec import forked
    from metricspec.cache import dumps, loads

    def part(positions: list[int]) -> Callable[[], list[Parsed]]:
        def parse() -> list[Parsed]:
            done = []
            for position in positions:
                name, text = texts[todo[position]]
                result = parse_source(text, name)
                described = () if cache is None else cache.keep_parsed(name, text, result)
                done.append((result, described))
            return done
        return parse

    outputs = forked.run_parts([part(p) for p in parts], dump=dumps, load=loads)
    for number, (positions, output) in enumerate(zip(parts, outputs, strict=True)):
        for position, (result, described) in zip(positions, output, strict=True):
            results[todo[position]] = result
            if cache is not None and number > 0:  # stored by the child that parsed it
                cache.remember(result, described)
    return results  # type: ignore[return-value]


def _split(sizes: list[int], workers: int) -> list[list[int]]:
    """Positions of `sizes` in parts of about equal work, one per process (this one
    first), or one part when the files are too few or small to be worth a fork. A child
    also pickles what it parsed and this process reads it back, so this process takes a
    larger share."""
    count = min(workers, len(sizes), sum(sizes) // _BYTES_PER_PART)
    if count < 2:
        return [list(range(len(sizes)))]
    loads = [0.0] * count
    parts: list[list[int]] = [[] for _ in range(count)]
    for position in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        weighted = [(load + sizes[position]) * (1.0 if n == 0 else _CHILD_COST)
                    for n, load in enumerate(loads)]
        chosen = weighted.index(min(weighted))
        loads[chosen] += sizes[position]
        parts[chosen].append(position)
    return [sorted(part) for part in parts]


def _relative(path: Path, root: Path) -> str:
    absolute, base = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    return absolute.relative_to(base).as_posix() if absolute.is_relative_to(base) else str(path)


def read_spec(path: Path, diagnostics: list[Diagnostic]) -> str | None:
    """The text of one spec file, or None with an MS100 diagnostic.

    Only regular files are read, and at most `MAX_SPEC_BYTES` of them: a FIFO would block
    forever and `/dev/zero` would never end. The file is opened without blocking and checked
    again once open, in case it was swapped. A UTF-8 byte order mark is dropped.
    """
    name = str(path)

    def refuse(message: str, span: ir.Span | None = None, hint: str | None = None) -> None:
        diagnostics.append(error("MS100", message, span or ir.Span.unknown(name), hint))

    try:
        info = os.stat(path)
        problem = _not_regular(info.st_mode) or _too_large(info.st_size)
        if problem:
            refuse(f"cannot read {name}: {problem}")
            return None
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as handle:
            problem = _not_regular(os.fstat(handle.fileno()).st_mode)
            data = b"" if problem else handle.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        refuse(f"no such file: {name}")
        return None
    except OSError as exc:
        refuse(f"cannot read {name}: {(exc.strerror or str(exc)).lower()}")
        return None
    problem = problem or (_too_large(len(data)) if len(data) > MAX_SPEC_BYTES else None)
    if problem:
        refuse(f"cannot read {name}: {problem}")
        return None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            refuse(f"cannot read {name}: it is {encoding} text, not UTF-8",
                   ir.Span.point(name, 1, 1), "save the file as UTF-8")
            return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _byte_position(exc.object, exc.start)
        refuse(f"cannot read {name}: it is not UTF-8 text", ir.Span.point(name, line, column),
               "save the file as UTF-8")
        return None
    return text.removeprefix("\ufeff")


def _not_regular(mode: int) -> str | None:
    """Why a file of this mode cannot be a spec file, if it cannot."""
    if stat.S_ISREG(mode):
        return None
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"))
    kind = next((word for test, word in kinds if test(mode)), "a special file")
    return f"it is {kind}, not a regular file"


def _too_large(size: int) -> str | None:
    """Why a file of `size` bytes is refused, if it is."""
    if size <= MAX_SPEC_BYTES:
        return None
    return (f"it is {_size(size)} ({size:,} bytes); a spec file may be at most "
            f"{_size(MAX_SPEC_BYTES)} (split it into several files)")


def _size(size: int) -> str:
    """`1.5 MiB`, `300 KiB`, `12 bytes`.

    >>> _size(1024 * 1024), _size(1536 * 1024), _size(12)
    ('1 MiB', '1.5 MiB', '12 bytes')
    """
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.4g} {unit}"
    return f"{size} bytes"


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    r"""The 1-based line and column (counted in characters) of byte `offset`.

    >>> _byte_position(b"caf\xc3\xa9\nab\xff", 8)
    (2, 3)
    """
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


__all__ = ["MAX_SPEC_BYTES", "Loaded", "ParseResult", "Read", "assemble", "load",
           "parse_source", "parse_text", "parse_yaml", "read_files", "read_spec", "spec_files"]
