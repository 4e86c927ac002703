"""Object names never take a file outside the output folder.

Two layers: `check` refuses any name that is not an identifier (MS207), so every command
stops before writing; and the writers map names to file names safely anyway, for callers
that skip `check` (0 files outside the output folder, whatever the name)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from outputs_helpers import cli, tree

from metricspec.backends import get_backend
from metricspec.document.docs import Site, build_site
from metricspec.outputs import MAX_STEM, OutputError, file_name, inside
from metricspec.pipeline import Compiled, write_all
from metricspec.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]

NAMES = [
    "../../../x", "../x", "..", ".", "", "a/b", "a\\b", "/etc/passwd", "C:\\x", "x" * 300,
    "a\nb", "a\x00b", "\x1b[31mred", "é", "名前", "con", "CON", "nul", "com1", "LPT9", "aux",
    "x.sql", " x", "x ", "-rf", "~", "$HOME", "a+b",
]


# ---------------------------------------------------------------- the mapping


@pytest.mark.parametrize("name", NAMES)
def test_file_name_is_one_plain_portable_component(name: str) -> None:
    made = file_name(name, ".sql")
    stem = made.removesuffix(".sql")
    assert made.isascii() and made.isprintable()
    assert "/" not in made and "\\" not in made and "\0" not in made
    assert stem not in ("", ".", "..") and not made.startswith(("-", "."))
    assert len(made.encode()) <= MAX_STEM + len(".sql")
    assert stem.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT9"}
    assert Path(made).name == made


def test_file_names_of_distinct_names_are_distinct() -> None:
    made = [file_name(n) for n in NAMES]
    assert len(set(made)) == len(NAMES)
    # Escaped names never collide with a name that maps to itself.
    assert all(file_name(m) == m for m in made if "-" not in m)


@pytest.mark.parametrize("name", ["csat", "_x1", "a" * 63, "conversations+messages"])
def test_safe_names_map_to_themselves(name: str) -> None:
    assert file_name(name, ".html") == name + ".html"


@pytest.mark.parametrize("part", ["..", ".", "", "a/b", "/abs", "a\\b", "a\0b"])
def test_inside_refuses_parts_that_are_not_file_names(tmp_path: Path, part: str) -> None:
    with pytest.raises(OutputError):
        inside(tmp_path, "metrics", part)


def test_inside_refuses_a_symlink_out_of_the_folder(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "metrics").symlink_to(elsewhere)
    with pytest.raises(OutputError, match="outside"):
        inside(out, "metrics", "x.sql")
    assert inside(out, "kpis", "x.sql") == out / "kpis" / "x.sql"


# ---------------------------------------------------------------- writers, without check


def _queries(names: list[str]) -> list[Compiled]:
    duckdb = get_backend("duckdb")
    return [Compiled(kind, name, duckdb, None, f"-- {i}\nSELECT 1\n")
            for i, name in enumerate(names)
            for kind in ("metric", "experiment", "kpi")]


def test_compile_writer_keeps_every_file_inside(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "er" / "build"
    before = tree(tmp_path)
    written = write_all(_queries(NAMES), out)
    assert len(written) == 3 * len(NAMES)
    new = tree(tmp_path) - before
    assert all(path.startswith("deep") for path in new), new
    for path in written:
        assert path.resolve().is_relative_to(out.resolve())
    assert len(list(out.rglob("*.sql"))) == 3 * len(NAMES)


def test_docs_writer_keeps_every_page_inside(tmp_path: Path) -> None:
    out = tmp_path / "a" / "site"
    before = tree(tmp_path)
    pages = {f"metrics/{file_name(n, '.html')}": f"<p>{i}</p>" for i, n in enumerate(NAMES)}
    Site(pages).write(out)
    assert all(p.startswith("a") for p in tree(tmp_path) - before)
    with pytest.raises(OutputError):
        Site({"metrics/../../../escape.html": "x"}).write(out)
    assert not (tmp_path / "escape.html").exists()


HOSTILE_NAMES_YAML = """\
sources:
  events: {table: app.events, entities: [user_id], time: ts}
metrics:
  "../../../escaped": {expr: count(events)}
  "a/b": {expr: count(events)}
  "con": {expr: count(events)}
  "": {expr: count(events)}
  "%s": {expr: count(events)}
kpis:
  "../kpi": {north_star: con}
""" % ("y" * 300)


def test_docs_site_from_unchecked_names_stays_inside(tmp_path: Path) -> None:
    spec = tmp_path / "specs" / "hostile.yaml"
    spec.parent.mkdir()
    spec.write_text(HOSTILE_NAMES_YAML, encoding="utf-8")
    ws = Workspace.load(spec)
    assert {d.code for d in ws.errors} == {"MS207"}
    site = build_site(ws.index, ws.texts, [get_backend("duckdb")])
    out = tmp_path / "site"
    before = tree(tmp_path)
    site.write(out)
    assert all(p.startswith("site") for p in tree(tmp_path) - before)
    assert len(list((out / "metrics").glob("*.html"))) == 5


# ---------------------------------------------------------------- the command line


@pytest.fixture()
def hostile_names(tmp_path: Path) -> Path:
    specs = tmp_path / "work" / "specs"
    specs.mkdir(parents=True)
    (specs / "names.yaml").write_text(HOSTILE_NAMES_YAML + """\
experiments:
  "../exp":
    unit: user_id
    assignment: events
    variants: {control: 50%, treatment: 50%}
    window: 2026-01-01 .. 2026-01-14
    primary: [con]
""", encoding="utf-8")
    return specs


@pytest.mark.parametrize("args", [
    ["compile", "{specs}", "--out", "{work}/build"],
    ["compile", "{specs}", "--out", "{work}/build", "--dialect", "all"],
    ["docs", "--spec-dir", "{specs}", "--out", "{work}/site"],
    ["plan", "../exp", "--spec-dir", "{specs}", "--out", "{work}/plan.md"],
    ["run", "../exp", "--spec-dir", "{specs}", "--warehouse", "duckdb:///{work}/w.duckdb",
     "--html", "{work}/r.html"],
    ["sql", "a/b", "--spec-dir", "{specs}"],
    ["monitor", "--spec-dir", "{specs}", "--warehouse", "duckdb:///{work}/w.duckdb"],
], ids=["compile", "compile-all", "docs", "plan", "run", "sql", "monitor"])
def test_commands_refuse_names_that_are_not_identifiers(hostile_names: Path,
                                                        args: list[str]) -> None:
    work = hostile_names.parent
    root = work.parent
    before = tree(root)
    status, stdout, stderr = cli(*[a.format(specs=hostile_names, work=work) for a in args])
    assert status == 1, stdout + stderr
    assert "error[MS207]" in stdout + stderr
    assert tree(root) == before, "a command wrote something for a spec check refuses"


def test_check_reports_each_name_once_at_its_place(hostile_names: Path) -> None:
    status, stdout, _ = cli("check", hostile_names, "--format", "json")
    import json

    found = [(d["code"], d["line"]) for d in json.loads(stdout)["diagnostics"]
             if d["code"] == "MS207"]
    assert status == 1
    assert sorted(found) == [("MS207", line) for line in (4, 5, 7, 8, 10, 12)]


def test_a_dsl_name_longer_than_the_limit_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "long.mspec"
    name = "m" * 64
    spec.write_text(f"source s = table a.b {{ entity u; time ts }}\nmetric {name} = count(s)\n",
                    encoding="utf-8")
    status, stdout, _ = cli("check", spec)
    assert status == 1 and "error[MS207]" in stdout and "64 characters" in stdout
    spec.write_text(f"source s = table a.b {{ entity u; time ts }}\nmetric {name[1:]} = count(s)\n",
                    encoding="utf-8")
    assert cli("check", spec)[0] == 0


def test_check_output_shows_a_hostile_name_without_control_characters(
        hostile_names: Path) -> None:
    (hostile_names / "more.yaml").write_text(
        'metrics:\n  "\\e]0;pwned\\a\\e[2J": {expr: count(events)}\n', encoding="utf-8")
    status, stdout, _ = cli("check", hostile_names)
    assert status == 1
    assert "\x1b" not in stdout and "\x07" not in stdout
    assert os.linesep not in stdout.split("error[MS207]: metric name `")[1].split("`")[0]


def test_every_link_of_the_docs_site_leads_to_a_page(tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert cli("docs", "--spec-dir", REPO / "specs", "--out", site)[0] == 0
    links = 0
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"href=(?!\")", text), f"{page.name}: a mangled link"
        for href in re.findall(r'href="([^"#]+)"', text):
            assert (page.parent / href).resolve().is_file(), f"{page.name}: {href}"
            links += 1
    assert links > 100
