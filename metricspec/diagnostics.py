"""Diagnostics: the one type every stage uses to say what is wrong, and how it is shown.

A `Diagnostic` has a stable code (``MS201``), a severity, a message, the span it is about and
an optional hint. Codes are grouped by family and never reused:

=======  ==========================================================
MS1xx    syntax: DSL and YAML structure
MS2xx    names: unknown or duplicate references
MS3xx    cycles among metrics and in KPI trees
MS4xx    types: aggregations, filters, units, KPI compositions
MS5xx    experiments
MS6xx    monitors and guardrails
MS7xx    what a warehouse backend cannot express
MS9xx    the command line and the warehouse connection
=======  ==========================================================

Rendering follows compilers::

    specs/support.mspec:12:25: error[MS201]: unknown metric `csta`
       12 | metric deflection = csta * task_completion
          |                     ^^^^ did you mean `csat`?
"""

from __future__ import annotations

import difflib
import json
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from metricspec.ir.base import Span
from metricspec.safetext import printable


class Severity(StrEnum):
    """How bad a diagnostic is; only errors fail `metricspec check`."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


CODES: dict[str, str] = {
    # syntax
    "MS100": "file cannot be read",
    "MS101": "unexpected token",
    "MS102": "unexpected character",
    "MS103": "unexpected end of file",
    "MS104": "invalid YAML",
    "MS105": "unknown YAML key",
    "MS106": "wrong YAML value",
    "MS107": "invalid value",
    "MS108": "setting given twice",
    "MS109": "no spec files found",
    "MS110": "statement nested too deeply",
    "MS111": "YAML aliases loop or expand too far",
    # names
    "MS201": "unknown metric",
    "MS202": "unknown source",
    "MS203": "unknown column",
    "MS204": "duplicate name",
    "MS205": "unknown entity",
    "MS206": "unknown dimension",
    "MS207": "name is not an identifier",
    # cycles
    "MS301": "cycle among metrics",
    "MS302": "cycle in a KPI tree",
    "MS303": "KPI tree is not connected to its north star",
    "MS304": "metrics built on metrics too deeply",
    "MS305": "cycle in the entity graph",
    # types
    "MS401": "aggregation does not fit the column type",
    "MS402": "quantile outside (0, 1)",
    "MS403": "filter outside the safe SQL subset",
    "MS404": "filter does not parse",
    "MS405": "filter names an unknown column",
    "MS406": "KPI composition units do not fit",
    "MS407": "KPI composition directions do not fit",
    "MS408": "invalid weights",
    "MS409": "sources share no entity",
    "MS410": "window function misused",
    "MS411": "division by zero",
    "MS412": "unknown column type",
    "MS413": "invalid metric metadata",
    "MS414": "KPI composition has the wrong number of drivers",
    "MS415": "source query is not one read-only SELECT",
    "MS416": "invalid table path",
    "MS417": "name clashes with a generated SQL name",
    "MS430": "ambiguous join path",
    "MS431": "dimension reached through a fan-out join",
    "MS432": "join key types differ",
    "MS433": "slowly changing dimension joined without an event time",
    "MS434": "join key type declared at one end only",
    # the calendar
    "MS440": "unknown time zone",
    "MS441": "unknown weekday or month",
    "MS442": "more than one calendar",
    "MS443": "backend cannot convert time zones",
    "MS444": "unknown source time zone",
    "MS445": "time zone on a source without a time column",
    "MS446": "experiment reads a source with local times",
    "MS447": "unknown period of a to-date metric",
    "MS448": "calendar duration outside a rolling window",
    "MS449": "calendar window does not fit the query's grain",
    "MS450": "offset of something that is not a time series",
    "MS451": "offset is not a whole number of periods",
    "MS452": "offset nested in an offset or a window",
    "MS453": "invalid offset length",
    "MS454": "monitor offset misused",
    "MS455": "backend has no approximate distinct count",
    "MS456": "aggregate option does not fit the aggregate",
    "MS457": "semi-additive `per` is not an entity of the source",
    "MS458": "window over a semi-additive measure",
    "MS459": "experiment metric is semi-additive or approximate",
    "MS460": "to-date period does not hold whole periods of the query's grain",
    "MS461": "window at grain none",
    # experiments
    "MS501": "variant split does not sum to 100%",
    "MS502": "control variant missing or ambiguous",
    "MS503": "experiment unit is not an entity",
    "MS504": "no primary metric",
    "MS505": "guardrail without a margin",
    "MS506": "analysis window is empty",
    "MS507": "alpha out of range",
    "MS508": "power out of range",
    "MS509": "invalid variants",
    "MS510": "metric cannot be analysed in an experiment",
    "MS511": "invalid minimum detectable effect",
    "MS512": "metric listed twice",
    "MS513": "missing experiment setting",
    "MS514": "invalid experiment setting",
    "MS515": "margin direction disagrees with the metric",
    "MS516": "assignment source has no time column",
    "MS517": "pinned metric changed without a new version",
    "MS518": "invalid metric version",
    "MS519": "lock file cannot be read",
    "MS520": "invalid covariate",
    # monitors and guardrails
    "MS601": "baseline does not fit the grain",
    "MS602": "invalid alert threshold",
    "MS603": "invalid minimum sample size",
    "MS604": "missing monitor setting",
    "MS605": "metric has no time column",
    "MS606": "invalid grain",
    "MS607": "metric cannot be monitored",
    # backends
    "MS701": "backend computes this approximately",
    "MS702": "backend cannot express this",
    "MS703": "backend lacks what this needs",
    # command line / warehouse
    "MS901": "unknown object",
    "MS902": "unknown dialect",
    "MS903": "warehouse error",
    "MS910": "cannot write an output file",
    "MS911": "file already exists",
    "MS920": "invalid configuration file",
    "MS921": "unset environment variable in the configuration",
}


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a spec, at one place."""

    code: str
    message: str
    span: Span
    severity: Severity = Severity.ERROR
    hint: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.file, self.span.line, self.span.column, self.code)

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "hint": self.hint,
            "notes": list(self.notes),
        }


class Judged:
    """What holds diagnostics (a loaded workspace, a build): its errors and warnings, and
    whether it has no error."""

    diagnostics: list[Diagnostic]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors


def error(code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    """Build an error diagnostic.

    >>> error("MS201", "unknown metric `x`", Span.unknown()).severity.value
    'error'
    """
    return Diagnostic(code, message, span, Severity.ERROR, hint)


def warning(code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    """Build a warning diagnostic."""
    return Diagnostic(code, message, span, Severity.WARNING, hint)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """Suggest the closest known name, as a hint.

    >>> did_you_mean("csta", ["csat", "ces", "latency_p95"])
    'did you mean `csat`?'
    >>> did_you_mean("zzz", ["csat"]) is None
    True
    """
    pool = _pool(candidates)
    if len(pool.names) > _SCAN_ALL:
        # Comparing with every name is O(names) per unknown name, and a file with
        # thousands of unknown names made reporting quadratic: compare only with the
        # names one or two edits away (and those sharing a long prefix).
        near = pool.near(name)
        matches = difflib.get_close_matches(name, near, n=1, cutoff=0.6)
    else:
        matches = difflib.get_close_matches(name, pool.names, n=1, cutoff=0.6)
    if not matches and name.lower() in pool.lowered:
        matches = [pool.lowered[name.lower()]]
    return f"did you mean `{matches[0]}`?" if matches else None


_SCAN_ALL = 200


class _Pool:
    """Candidate names, indexed once for the did-you-means of one checking pass."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = sorted(set(names))
        self.lowered = {c.lower(): c for c in reversed(self.names)}
        self._index: dict[str, list[str]] | None = None

    def near(self, name: str) -> list[str]:
        if self._index is None:
            self._index = {}
            for candidate in self.names:
                for key in _keys(candidate):
                    self._index.setdefault(key, []).append(candidate)
        found: dict[str, None] = {}
        for key in _keys(name):
            for candidate in self._index.get(key, ())[:50]:
                found.setdefault(candidate)
        return sorted(found)


def _keys(word: str) -> set[str]:
    """The word with each one character deleted, the word itself, and its first six
    characters: two names share a key when they are one edit apart (two for a
    substitution or transposition) or start alike."""
    short = word[:40]
    keys = {short, "^" + short[:6]} | {short[:i] + short[i + 1:] for i in range(len(short))}
    return keys


_POOLS: list[tuple[object, int, _Pool]] = []


def _pool(candidates: Iterable[str]) -> _Pool:
    """The indexed pool for `candidates`. The checker passes the same mapping for every
    unknown name of a kind, so the last few pools are kept (with their objects, so an id
    is never reused while cached)."""
    if isinstance(candidates, (dict, list, tuple, set, frozenset)):
        for obj, size, pool in _POOLS:
            if obj is candidates and size == len(candidates):
                return pool
        pool = _Pool(candidates)
        if len(pool.names) > _SCAN_ALL:
            _POOLS.insert(0, (candidates, len(candidates), pool))
            del _POOLS[4:]
        return pool
    return _Pool(candidates)


# ---------------------------------------------------------------- rendering


class SourceCache:
    """Reads spec files once, to show the offending line under a diagnostic."""

    def __init__(self, texts: Mapping[str, str] | None = None) -> None:
        self._texts: dict[str, str] = dict(texts or {})
        self._starts: dict[str, list[int]] = {}

    def line(self, file: str, number: int) -> str | None:
        """Line `number` (1-based) of `file`; lines end at `\\n` only, as the parsers count."""
        if file not in self._texts:
            self._texts[file] = _read_small(file)
        text = self._texts[file]
        starts = self._starts.get(file)
        if starts is None:
            starts = self._starts[file] = _line_starts(text)
        if not 1 <= number <= len(starts):
            return None
        end = starts[number] - 1 if number < len(starts) else len(text)
        return text[starts[number - 1]:end].removesuffix("\n").removesuffix("\r")


def _line_starts(text: str) -> list[int]:
    starts = [0]
    at = text.find("\n")
    while at >= 0:
        starts.append(at + 1)
        at = text.find("\n", at + 1)
    if starts[-1] == len(text) and len(starts) > 1:
        starts.pop()  # a final newline does not start a line
    return starts


def _read_small(file: str) -> str:
    """A file's text if it is a regular file of at most 1 MiB in UTF-8, else nothing."""
    import stat

    try:
        info = Path(file).stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_READ:
            return ""
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError):
        return ""


_MAX_READ = 1024 * 1024
# A line longer than this is shown as a window around the column, so a 10 MB line costs
# kilobytes; messages and hints are cut at `_MAX_TEXT` characters.
_MAX_LINE = 120
_MAX_TEXT = 300
# Diagnostics of one code in one file shown before the rest are summed up in one line.
MAX_PER_CODE = 50


def _printable(text: str) -> str:
    """Replace control characters (C0, DEL, C1, direction overrides) one for one, so a
    hostile spec cannot rewrite the terminal and carets stay under their column."""
    return printable(text, keep="\t", replacement="\ufffd")


def _clip(text: str, limit: int = _MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _window(line: str, column: int, limit: int = _MAX_LINE) -> tuple[str, int]:
    """At most `limit` characters of `line` around `column` (with an ellipsis at each cut
    end), and the column in them."""
    if len(line) <= limit:
        return line, column
    start = max(0, min(column - 1 - limit // 3, len(line) - limit))
    end = start + limit
    shown = ("…" if start else "") + line[start:end] + ("…" if end < len(line) else "")
    return shown, column - start + (1 if start else 0)


def render_text(diagnostic: Diagnostic, sources: SourceCache, width: int | None = None) -> str:
    """Render like a compiler: location, code, message, the line and a caret under the span.

    With `width` (a terminal's columns) the line is a window that fits it, so the caret
    stays under its text, and a hint that would not fit beside the caret gets its own line.
    """
    d, s = diagnostic, diagnostic.span
    head = (f"{_printable(s.file)}:{s.line}:{s.column}: {d.severity.value}[{d.code}]: "
            f"{_printable(d.message)}")
    out = [head]
    hint = _printable(d.hint) if d.hint else None
    line = sources.line(s.file, s.line) if s.line > 0 else None
    if line is not None:
        gutter = str(s.line)
        pad = " " * len(gutter)
        limit = _MAX_LINE
        if width is not None:  # the gutter, and the two ellipses of a window
            limit = max(20, min(_MAX_LINE, width - len(gutter) - 6 - 2))
        span = (s.end_column - s.column) if s.end_line == s.line else len(line) - s.column + 1
        line, column = _window(line, s.column, limit)
        shown = _printable(line.replace("\t", " "))
        span = max(1, min(span, max(1, len(shown) - column + 1)))
        caret = f"   {pad} | " + " " * (column - 1) + "^" * span
        out.append(f"   {gutter} | {shown}")
        if hint and width is not None and len(caret) + 1 + len(hint) > width:
            out.extend([caret, *_labelled("hint", hint, width)])
        else:
            out.append(caret + (f" {hint}" if hint else ""))
    elif hint:
        out.extend(_labelled("hint", hint, width))
    for note in d.notes:
        out.extend(_labelled("note", _printable(note), width))
    return "\n".join(out)


def _labelled(label: str, text: str, width: int | None) -> list[str]:
    """`   = hint: text`, wrapped to `width` under its first word when it is longer.

    >>> _labelled("hint", "one two three four", 20)
    ['   = hint: one two', '           three four']
    """
    prefix = f"   = {label}: "
    if width is None or len(prefix) + len(text) <= width:
        return [prefix + text]
    return textwrap.wrap(text, width=max(width, len(prefix) + 10), initial_indent=prefix,
                         subsequent_indent=" " * len(prefix), break_long_words=False,
                         break_on_hyphens=False) or [prefix]


def capped(diagnostics: Sequence[Diagnostic], limit: int = MAX_PER_CODE) -> list[Diagnostic]:
    """The first `limit` diagnostics of each code in each file (in order), then one that
    counts the rest: output stays bounded however many times one mistake is repeated."""
    seen: dict[tuple[str, str, Severity], int] = {}
    out: list[Diagnostic] = []
    for d in diagnostics:
        key = (d.span.file, d.code, d.severity)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= limit:
            out.append(d)
    for (file, code, severity), count in seen.items():
        if count > limit:
            more = count - limit
            kind = severity.value + ("s" if more > 1 else "")
            out.append(Diagnostic(code, f"… and {more} more {code} {kind} in this file",
                                  Span.unknown(file), severity))
    return out


def _shortened(d: Diagnostic) -> Diagnostic:
    """The diagnostic with its message, hint and notes cut to a readable length."""
    return Diagnostic(d.code, _clip(d.message), d.span, d.severity,
                      _clip(d.hint) if d.hint else None, tuple(_clip(n) for n in d.notes[:10]))


def _github_escape(text: str) -> str:
    escaped = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return printable(escaped, replacement="\ufffd")  # CI logs render ANSI escapes


def render_github(diagnostic: Diagnostic) -> str:
    """Render as a GitHub Actions workflow command (an annotation on the pull request)."""
    d, s = diagnostic, diagnostic.span
    kind = {"error": "error", "warning": "warning", "note": "notice"}[d.severity.value]
    props = (
        f"file={_github_escape(s.file)},line={s.line},col={s.column},"
        f"endLine={s.end_line},endColumn={s.end_column},title={d.code}"
    )
    message = d.message + (f" ({d.hint})" if d.hint else "")
    return f"::{kind} {props}::{_github_escape(message)}"


def render(diagnostics: Sequence[Diagnostic], fmt: str, sources: SourceCache,
           width: int | None = None) -> str:
    """Render all diagnostics in one of the formats `text`, `json` or `github`; text fits
    snippets to `width` columns when given (`render_text`)."""
    everything = sorted(diagnostics, key=Diagnostic.sort_key)
    ordered = [_shortened(d) for d in capped(everything)]
    if fmt == "json":
        errors = sum(d.is_error for d in everything)
        payload = {
            "version": 1,
            "errors": errors,
            "warnings": sum(d.severity is Severity.WARNING for d in everything),
            "diagnostics": [d.to_dict() for d in ordered],
        }
        return json.dumps(payload, indent=2, ensure_ascii=False)
    if fmt == "github":
        return "\n".join(render_github(d) for d in ordered)
    return "\n\n".join(render_text(d, sources, width) for d in ordered)
