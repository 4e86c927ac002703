"""Property tests: no input of any kind produces anything but diagnostics.

Hypothesis runs derandomised (a fixed seed per test), without an example database, with
example counts chosen to keep the module to a few seconds; `HYPOTHESIS_SCALE=10` in the
environment multiplies them for a deeper local run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from metricspec.cli import app
from metricspec.diagnostics import CODES
from metricspec.parse import parse_source
from metricspec.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
DSL_FILES = sorted(SPECS.rglob("*.mspec"))
SCALE = int(os.environ.get("HYPOTHESIS_SCALE", "1"))


def examples(n: int) -> settings:
    return settings(max_examples=n * SCALE, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="metricspec-props-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def load_text(folder: Path, text: str, suffix: str) -> Workspace:
    """Write `text` as a spec file and load it; only diagnostics may come out."""
    path = folder / f"fuzz{suffix}"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    ws = Workspace.load(path)
    for diagnostic in ws.diagnostics:
        assert diagnostic.code in CODES
        assert diagnostic.span.line >= 1 and diagnostic.span.column >= 1, diagnostic
    # Rendering must cope with whatever the file holds (control characters, NUL, …).
    for fmt in ("text", "json", "github"):
        ws.render(fmt)
    return ws


# ---------------------------------------------------------------- arbitrary text

any_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=400)

TOKENS = [
    "metric ", "source ", "kpi ", "guardrail ", "experiment ", "monitor ", "= ", "{", "}", "(",
    ")", "[", "]", ",", ";", ":", ".", "..", "->", "<-", "<=", ">", "%", "pp", "+", "-", "*",
    "/", "'", '"', '"""', "`", "#", "\n", "\t", " ", "\x00", "\r", "\u2028", "é", "∑", "🙂",
    "where ", "count(", "sum(", "p95(", "quantile(", "weighted(", "conversion(", "rolling(",
    "cumulative(", "within ", "by ", "table ", "query ", "entity ", "time ", "dimension ",
    "column ", "unit ", "variants ", "control", "window ", "2026-11-01", "2026-13-45",
    "primary ", "guardrail ", "max_increase ", "alpha ", "power ", "every ", "baseline ",
    "trailing ", "alert when ", "below ", "above ", "zscore ", "for ", "windows", "min_n ",
    "north_star ", "product(", "ratio(", "drivers(", "select ", "drop table x", "--", "/*",
    "0", "1", "0.5", "50", "1e999", "-3", "99999999999999999999", "x", "csat", "s.col",
    "metrics:\n  ", "sources:\n  ", "experiments:\n  ", "monitors:\n  ", "kpis:\n  ",
    "guardrails:\n  ", "expr: ", "table: ", "  ", "- ", "? ", "&a ", "*a ", "!!str ", "|\n",
    ">-\n", "{a: ", "[a, ", "!!binary ", "%YAML 1.1\n", "---\n", "...\n",
]
token_soup = st.lists(st.sampled_from(TOKENS), max_size=80).map("".join)


@pytest.mark.parametrize("suffix", [".mspec", ".yaml"])
@examples(150)
@given(text=any_text)
def test_arbitrary_text_gives_only_diagnostics(scratch: Path, suffix: str, text: str) -> None:
    load_text(scratch, text, suffix)


@pytest.mark.parametrize("suffix", [".mspec", ".yaml"])
@examples(250)
@given(text=token_soup)
def test_token_soup_gives_only_diagnostics(scratch: Path, suffix: str, text: str) -> None:
    load_text(scratch, text, suffix)


EXTREMES = {
    "huge line": "metric m = " + "a + " * 30_000 + "a",
    "huge filter": "metric m = count(s where " + "x = 1 and " * 5_000 + "y)",
    "deep parentheses": "metric m = " + "(" * 3_000 + "1" + ")" * 3_000,
    "unclosed parentheses": "metric m = " + "(" * 3_000,
    "unclosed braces": "experiment e {" * 500,
    "unclosed string": 'metric m "' + "x" * 10_000,
    "unclosed triple quote": 'source s = query """' + "select 1\n" * 1_000,
    "nul bytes": "metric\x00m = \x00count(s)\x00",
    "control characters": "".join(chr(c) for c in range(32)) * 20,
    "only a BOM": "\ufeff",
    "deep YAML": "metrics: " + "[" * 500 + "]" * 500,
    "deep YAML mapping": "".join("  " * i + f"k{i}:\n" for i in range(300)),
    "YAML alias bomb": "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nmetrics: {m: {expr: *c}}",
    "YAML tags": "metrics: !!map {m: !!str {expr: count(s)}}\nsources: !custom {s: 1}",
    "huge numbers": "metric m = count(s) * 1e999999 { baseline mean 1e999 sd 1e999 }",
}


@pytest.mark.parametrize("suffix", [".mspec", ".yaml"])
@pytest.mark.parametrize("name", list(EXTREMES))
def test_extreme_inputs_give_only_diagnostics(scratch: Path, suffix: str, name: str) -> None:
    load_text(scratch, EXTREMES[name], suffix)


# ---------------------------------------------------------------- mutated real specs

def spec_copy(folder: Path) -> Path:
    target = folder / "specs"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(SPECS, target)
    return target


@st.composite
def line_edits(draw: st.DrawFn) -> tuple[Path, list[tuple[str, int, int]]]:
    path = draw(st.sampled_from(sorted(SPECS.rglob("*.mspec")) + sorted(SPECS.rglob("*.yaml"))))
    n = len(path.read_text(encoding="utf-8").split("\n"))
    edits = draw(st.lists(st.tuples(st.sampled_from(["delete", "duplicate", "swap"]),
                                    st.integers(0, n - 1), st.integers(0, n - 1)),
                          min_size=1, max_size=4))
    return path, edits


def apply_edits(text: str, edits: list[tuple[str, int, int]]) -> str:
    lines = text.split("\n")
    for op, i, j in edits:
        if not lines:
            break
        i, j = i % len(lines), j % len(lines)
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[j])
        else:
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


@examples(25)
@given(case=line_edits())
def test_specs_with_lines_deleted_duplicated_or_swapped_never_raise(
        scratch: Path, case: tuple[Path, list[tuple[str, int, int]]]) -> None:
    path, edits = case
    folder = spec_copy(scratch)
    target = folder / path.relative_to(SPECS)
    target.write_text(apply_edits(path.read_text(encoding="utf-8"), edits), encoding="utf-8")
    ws = Workspace.load(folder)
    ws.render("text")


# ---------------------------------------------------------------- a garbage line anywhere

# Lines no statement can contain: characters no token starts with, names where no second
# name may follow, closing brackets with no opener. Some lines are not garbage in this sense
# and are left out on purpose:
# - `}` alone: inside a block it closes the block early, so the error is on the next line;
# - a line starting with a statement keyword (`metric metric`): the parser takes it as the
#   start of a new statement, so inside a block the error is "this block is not closed" on
#   the line before it;
# - any line inside a triple-quoted string (a query source): it is SQL text (see
#   `boundaries`; the example specs have no query source, so nothing is skipped today).
GARBAGE = ["@@ !!", "lorem ipsum dolor", ")))", "}}} {{{"]


def boundaries(text: str) -> list[int]:
    """The line indexes where a garbage line can be inserted: every one, except inside a
    triple-quoted string (a query source), where any text is part of the SQL."""
    lines = text.split("\n")
    out = []
    inside = False
    for index in range(len(lines) + 1):
        if not inside:
            out.append(index)
        if index < len(lines) and lines[index].count('"""') % 2:
            inside = not inside
    return out


def insert_line(text: str, index: int, garbage: str) -> str:
    lines = text.split("\n")
    lines.insert(index, garbage)
    return "\n".join(lines)


def garbage_cases() -> list[tuple[Path, int]]:
    return [(path, index) for path in DSL_FILES
            for index in boundaries(path.read_text(encoding="utf-8"))]


def test_every_spec_file_has_boundaries_to_test() -> None:
    cases = garbage_cases()
    assert DSL_FILES and len(cases) >= sum(
        len(p.read_text(encoding="utf-8").split("\n")) for p in DSL_FILES)


@pytest.mark.slow
@pytest.mark.parametrize("garbage", GARBAGE)
def test_a_garbage_line_anywhere_is_reported_on_that_line(garbage: str) -> None:
    """Exhaustive over every line boundary of every specs/*.mspec file. The file is parsed on
    its own here (a garbage line is a syntax error, so an error exists and the exit status is
    1); the CLI test below checks whole spec folders the way a user runs them."""
    failures = []
    for path, index in garbage_cases():
        text = insert_line(path.read_text(encoding="utf-8"), index, garbage)
        result = parse_source(text, path.name)
        lines = {d.span.line for d in result.diagnostics if d.is_error}
        if index + 1 not in lines:
            failures.append(f"{path.relative_to(REPO)} line {index + 1}: errors on {sorted(lines)}")
    assert not failures, "\n".join(failures[:20])


@examples(15)
@given(path=st.sampled_from(DSL_FILES), data=st.data())
def test_the_cli_names_the_garbage_line(scratch: Path, path: Path, data: st.DataObject) -> None:
    text = path.read_text(encoding="utf-8")
    index = data.draw(st.sampled_from(boundaries(text)), label="index")
    garbage = data.draw(st.sampled_from(GARBAGE), label="garbage")
    folder = spec_copy(scratch)
    target = folder / path.relative_to(SPECS)
    target.write_text(insert_line(text, index, garbage), encoding="utf-8")
    result = CliRunner().invoke(app, ["check", str(folder)])
    assert result.exit_code == 1, result.output
    assert f"{target}:{index + 1}:" in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- the command line

@examples(25)
@given(text=st.one_of(any_text, token_soup), suffix=st.sampled_from([".mspec", ".yaml"]),
       fmt=st.sampled_from(["text", "json", "github"]))
def test_the_cli_exits_0_or_1_without_a_traceback(scratch: Path, text: str, suffix: str,
                                                   fmt: str) -> None:
    path = scratch / f"cli{suffix}"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    result = CliRunner().invoke(app, ["check", str(path), "--format", fmt])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
