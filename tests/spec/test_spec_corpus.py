"""The broken-spec corpus: every diagnostic code, at its exact line and column.

Each file in `broken/` (or each folder, for cases that span files) is one case. Its
expectations are written in the file itself, as comments::

    # expect: MS201 @ 10:21 hint=csat
    # expect: MS301 @ 5:12 path="a -> b -> c -> a"
    # expect: MS303 @ 22:3 warning

`CODE @ LINE:COLUMN` is required; `warning` says the diagnostic is a warning (otherwise it
must be an error); `hint=NAME` says the hint must propose `NAME`; `path="…"` says the message
must show that cycle path (the one place a test reads message text). A line `# dialect: D`
checks the case as `metricspec check --dialect D` would. The diagnostics found must be
exactly the expected ones: nothing missing, nothing extra.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from metricspec.backends import resolve_dialects
from metricspec.diagnostics import CODES, Diagnostic, Severity
from metricspec.workspace import Workspace

HERE = Path(__file__).parent
CORPUS = HERE / "broken"
PACKAGE = HERE.parents[1] / "metricspec"

# Codes of the spec families (MS1xx–MS7xx) that no spec file can trigger, with the reason.
# MS9xx belong to the command line and the warehouse connection (see test_spec_cli.py).
NOT_FROM_SPEC: dict[str, str] = {
    "MS109": "no spec files under the given paths: the CLI stops with a usage error "
             "(exit 2) before any file is read; tested in test_spec_cli.py",
    "MS703": "no shipped backend lacks an aggregate percentile; tested with a backend file "
             "written by tests/backends/test_backend_files.py",
    "MS443": "every shipped backend converts time zones; tested with a backend file without "
             "the spellings in tests/backends/test_zone_spellings.py",
    **{code: "judged with the query's grain (a request), at the window's line:column; "
             "tested in tests/plan/test_calendar_plan.py" for code in ("MS449", "MS460",
                                                                        "MS461")},
}

_EXPECT = re.compile(r"#\s*expect:\s*(MS\d{3})\s*@\s*(\d+):(\d+)(.*)$")
_DIALECT = re.compile(r"^#\s*dialect:\s*(\S+)")


@dataclass(frozen=True)
class Expectation:
    file: str
    code: str
    line: int
    column: int
    warning: bool = False
    hint: str | None = None
    path: str | None = None

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.file, self.code, self.line, self.column)


def _read(path: Path) -> str:
    # Expectations are ASCII; a case may be deliberately not UTF-8 (MS100).
    return path.read_bytes().decode("utf-8", errors="replace")


def case_files(case: Path) -> list[Path]:
    if case.is_dir():
        return sorted(p for p in case.rglob("*") if p.is_file())
    return [case]


def expectations(case: Path) -> list[Expectation]:
    found = []
    for path in case_files(case):
        for number, line in enumerate(_read(path).splitlines(), start=1):
            match = _EXPECT.search(line)
            if not match:
                continue
            options = shlex.split(match.group(4))
            extra = dict(o.split("=", 1) for o in options if "=" in o)
            unknown = set(extra) - {"hint", "path"} or {o for o in options if "=" not in o
                                                      and o != "warning"}
            assert not unknown, f"{path}:{number}: unknown expectation option(s) {unknown}"
            found.append(Expectation(str(path), match.group(1), int(match.group(2)),
                                     int(match.group(3)), "warning" in options,
                                     extra.get("hint"), extra.get("path")))
    return found


def dialects(case: Path) -> list[str]:
    return [m.group(1) for p in case_files(case) for line in _read(p).splitlines()
            if (m := _DIALECT.match(line))]


def cases() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if not p.name.startswith((".", "_")))


def check_case(case: Path) -> list[Diagnostic]:
    return Workspace.load(case, backends=resolve_dialects(dialects(case))).diagnostics


def _key(d: Diagnostic) -> tuple[str, str, int, int]:
    return (d.span.file, d.code, d.span.line, d.span.column)


@pytest.mark.parametrize("case", cases(), ids=lambda p: p.name)
def test_case_gives_exactly_the_expected_diagnostics(case: Path) -> None:
    expected = expectations(case)
    assert expected, f"{case.name} declares no `# expect:` lines"
    found = check_case(case)
    missing = Counter(e.key for e in expected) - Counter(_key(d) for d in found)
    extra = Counter(_key(d) for d in found) - Counter(e.key for e in expected)
    shown = "\n".join(f"  {d.span}: {d.code} {d.message}" for d in found)
    assert not missing and not extra, (
        f"missing: {sorted(missing)}\nunexpected: {sorted(extra)}\nall found:\n{shown}")
    for e in expected:
        matches = [d for d in found if _key(d) == e.key]
        severity = Severity.WARNING if e.warning else Severity.ERROR
        assert any(d.severity is severity for d in matches), f"{e}: severity is not {severity}"
        if e.hint:
            assert any(f"`{e.hint}`" in (d.hint or "") for d in matches), (
                f"{e}: no hint proposes `{e.hint}`: {[d.hint for d in matches]}")
        if e.path:
            assert any(e.path in d.message for d in matches), (
                f"{e}: the message does not show the path {e.path!r}")


def test_corpus_covers_every_spec_code() -> None:
    expected = {e.code for case in cases() for e in expectations(case)}
    spec_codes = {c for c in CODES if not c.startswith("MS9")}
    uncovered = spec_codes - expected - set(NOT_FROM_SPEC)
    assert not uncovered, f"no broken spec expects {sorted(uncovered)}"
    assert not expected & set(NOT_FROM_SPEC), "a code listed as unreachable is reached"
    families = {c[:3] for c in spec_codes}
    assert families <= {c[:3] for c in expected}


def test_every_code_the_package_emits_is_listed() -> None:
    emitted = set()
    for path in [*PACKAGE.joinpath("parse").rglob("*.py"), *PACKAGE.joinpath("check").rglob(
            "*.py"), PACKAGE / "workspace.py"]:
        emitted |= set(re.findall(r"\"(MS\d{3})\"", path.read_text(encoding="utf-8")))
    assert emitted, "no diagnostic codes found in the package source"
    assert not emitted - set(CODES), f"codes used but not listed in CODES: {emitted - set(CODES)}"


def test_codes_are_grouped_in_their_families() -> None:
    for code in CODES:
        assert re.fullmatch(r"MS[1-79]\d\d", code), code
    assert all(CODES.values())


@pytest.mark.parametrize("case", cases(), ids=lambda p: p.name)
def test_every_diagnostic_renders_in_every_format(case: Path) -> None:
    ws = Workspace.load(case, backends=resolve_dialects(dialects(case)))
    for diagnostic in ws.diagnostics:
        assert diagnostic.code in CODES
        assert diagnostic.span.line >= 1 and diagnostic.span.column >= 1, diagnostic
        assert (diagnostic.span.end_line, diagnostic.span.end_column) >= (
            diagnostic.span.line, diagnostic.span.column), diagnostic
    text = ws.render("text")
    for diagnostic in ws.diagnostics:
        assert f"{diagnostic.span}: {diagnostic.severity.value}[{diagnostic.code}]" in text
    assert ws.render("json") and ws.render("github")
