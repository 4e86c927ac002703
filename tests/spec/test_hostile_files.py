"""Spec files that are not what they seem: FIFOs, devices, sockets, folders named x.yaml,
huge files and lines, byte order marks — and diagnostics that stay linear and bounded.

Every case must end quickly with a diagnostic; none may block, read without end or print
megabytes.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metricspec.cli import app
from metricspec.diagnostics import Diagnostic, SourceCache, did_you_mean, error, render
from metricspec.ir import Span
from metricspec.parse import MAX_SPEC_BYTES, load
from metricspec.workspace import Workspace

VALID = "source s = table t { entity u  time ts }\nmetric m = count(s)\n"


def _codes(paths: list[Path]) -> list[str]:
    return [d.code for d in load(paths).diagnostics]


def _only(paths: list[Path], code: str, words: str) -> Diagnostic:
    found = load(paths).diagnostics
    assert [d.code for d in found] == [code], found
    assert words in found[0].message, found[0].message
    return found[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    started = time.monotonic()
    _only([fifo], "MS100", "named pipe")
    assert time.monotonic() - started < 2


def test_a_device_is_refused_not_read(tmp_path: Path) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    link = tmp_path / "zero.mspec"
    link.symlink_to("/dev/zero")
    _only([link], "MS100", "character device")
    _only([Path("/dev/zero")], "MS100", "not a spec file")


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    if len(str(path)) > 100:
        pytest.skip("socket path too long for AF_UNIX")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        _only([path], "MS100", "socket")


def test_a_folder_named_like_a_spec_file_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "x.yaml"
    folder.mkdir()
    (folder / "inner.mspec").write_text(VALID)
    assert _codes([folder]) == []                         # walked, not read as a file
    assert len(load([folder]).project.metrics) == 1


def test_a_file_over_the_cap_is_refused_with_its_size(tmp_path: Path) -> None:
    big = tmp_path / "big.mspec"
    big.write_text("metric m = " + "x" * (MAX_SPEC_BYTES + 10))
    found = _only([big], "MS100", "MiB")
    assert f"{MAX_SPEC_BYTES + 21:,} bytes" in found.message


def test_byte_order_marks(tmp_path: Path) -> None:
    utf8 = tmp_path / "bom.mspec"
    utf8.write_bytes(b"\xef\xbb\xbf" + VALID.encode())
    assert _codes([utf8]) == []
    yaml = tmp_path / "bom.yaml"
    yaml.write_bytes(b"\xef\xbb\xbfmetrics:\n  m: {expr: csta}\n")
    ws = Workspace.load(yaml)
    assert [(d.code, d.span.line, d.span.column) for d in ws.errors] == [("MS201", 2, 13)]
    for bom, name in ((b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"),
                      (b"\xff\xfe\x00\x00", "UTF-32")):
        other = tmp_path / "other.yaml"
        other.write_bytes(bom + "metrics: {}".encode("utf-16-le"))
        _only([other], "MS100", name)


def test_invalid_utf8_and_binary(tmp_path: Path) -> None:
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    _only([binary], "MS100", "not UTF-8")
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"metrics:\n  m: {expr: count(x)}\x00\n")
    assert _codes([nul]) == ["MS104"]


def test_a_ten_megabyte_line_is_cheap_to_report(tmp_path: Path) -> None:
    # Under the cap: a 1 MiB line of one name, an unknown metric, and a 10 MB line refused.
    line = tmp_path / "line.mspec"
    line.write_text("metric m = " + "y" * (MAX_SPEC_BYTES - 100) + " +\n")
    ws = Workspace.load(line)
    text = ws.render("text")
    assert ws.errors and len(text) < 5000, len(text)
    assert len(ws.render("json")) < 10_000 and len(ws.render("github")) < 5000


def test_snippets_show_a_window_around_the_column() -> None:
    long_line = "a" * 5000 + " bad " + "b" * 5000
    span = Span.point("f.mspec", 1, 5002, 3)
    text = render([error("MS201", "unknown metric `bad`", span)], "text",
                  SourceCache({"f.mspec": long_line}))
    snippet, caret = text.splitlines()[1:3]
    assert len(snippet) < 200 and "bad" in snippet
    assert snippet.index("bad") == caret.index("^^^")     # the caret stays under the name


@pytest.mark.parametrize("width", [40, 80, 100])
@pytest.mark.parametrize("column", [1, 30, 75, 140])
def test_snippets_fit_the_terminal_with_the_caret_under_the_span(width: int, column: int) -> None:
    line = "".join(chr(ord("a") + i % 26) for i in range(160))
    span = Span.point("f.mspec", 1, column, 3)
    hint = "a filter may only use columns of `feedback`, the source it counts"
    text = render([error("MS405", "`x` is not a column", span, hint)], "text",
                  SourceCache({"f.mspec": line}), width)
    _, snippet, caret, *rest = text.splitlines()
    assert len(snippet) <= width and len(caret) <= width
    under = caret.index("^^^")
    assert snippet[under:under + 3] == line[column - 1:column + 2]
    if caret.endswith(hint):  # beside the caret when it fits, else on lines of its own
        assert rest == []
    else:
        assert rest[0].startswith("   = hint: ") and all(len(r) <= width for r in rest)
        assert " ".join(r.strip() for r in rest) == f"= hint: {hint}"
        assert all(r.startswith(" " * len("   = hint: ")) for r in rest[1:])


def test_repeated_errors_are_capped_per_file_and_code() -> None:
    many = [error("MS201", f"unknown metric `u{i}`", Span.point("a.mspec", i + 1, 1))
            for i in range(1000)]
    other = [error("MS202", "unknown source `s`", Span.point("a.mspec", 1, 1)),
             error("MS201", "unknown metric `v`", Span.point("b.mspec", 1, 1))]
    text = render(many + other, "text", SourceCache({}))
    assert text.count("error[MS201]") == 50 + 1 + 1       # 50, the summary, b.mspec's one
    assert "… and 950 more MS201 errors in this file" in text
    assert "error[MS202]" in text
    payload = render(many, "json", SourceCache({}))
    assert '"errors": 1000' in payload                     # counts stay true


def test_did_you_mean_is_fast_for_thousands_of_names() -> None:
    names = {f"metric_{i}": None for i in range(10_000)}
    started = time.monotonic()
    hints = [did_you_mean(f"metrc_{i}", names) for i in range(2000)]
    assert time.monotonic() - started < 5                 # was about 20 s (100 s for 10,000)
    assert hints[7] == "did you mean `metric_7`?"
    assert did_you_mean("zzzzzz", names) is None
    assert did_you_mean("METRIC_9", names) == "did you mean `metric_9`?"


def test_small_pools_keep_every_suggestion() -> None:
    assert did_you_mean("latency", ["latency_p95", "csat"]) == "did you mean `latency_p95`?"


@pytest.mark.slow
def test_ten_thousand_unknown_references_report_in_linear_time(tmp_path: Path) -> None:
    lines = ["source s = table t { entity u  time ts }", "metric base = count(s)"]
    lines += [f"metric m{i} = base + unknown_{i}" for i in range(10_000)]
    spec = tmp_path / "many.mspec"
    spec.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    ws = Workspace.load(spec)
    text = ws.render("text")
    assert time.monotonic() - started < 60                # was 116 s; parsing dominates now
    assert len(ws.errors) == 10_000
    assert "… and 9950 more MS201 errors in this file" in text


def test_no_spec_files_prints_its_code(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["check", str(tmp_path)])
    assert result.exit_code == 2
    assert "error[MS109]" in result.output
    result = CliRunner().invoke(app, ["check", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "error[MS109]" in result.output


def test_an_unreadable_file_is_a_diagnostic(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "locked.mspec"
    spec.write_text(VALID)
    spec.chmod(0)

    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied", str(spec))

    monkeypatch.setattr("metricspec.parse.os.open", denied)   # root may read anything
    _only([spec], "MS100", "permission denied")


def test_one_folder_given_as_a_string_is_one_path(tmp_path: Path) -> None:
    # `load("specs")` once iterated the string's letters: "/" made it walk the whole disk
    (tmp_path / "a.mspec").write_text("source s = table t {\n  entity user_id: string\n"
                                      "  time ts: timestamp\n}\n")
    for given in (str(tmp_path), tmp_path, [str(tmp_path)]):
        loaded = load(given)
        assert [s.name for s in loaded.project.sources] == ["s"], loaded.diagnostics
