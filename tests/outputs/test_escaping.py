"""Hostile free text (labels, descriptions, owners, tags, warehouse values) reaches every
output format escaped: the docs site, the HTML report, the Markdown plan (as written and as
any Markdown renderer shows it), the terminal, JSON. Nothing is interpreted: no HTML, no
script, no link or image, no template expression, no rich markup, no control character."""

from __future__ import annotations

import html as html_lib
import json
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from outputs_helpers import CONTROL, HOSTILE, PAYLOAD, Project, cli

import metricspec
from metricspec.safetext import markdown_code, markdown_text, printable
from metricspec.templating import environment

# What a hostile label would produce if it were interpreted anywhere.
MARKUP = ("<script", "<img", "onerror=alert(2)>", 'href="javascript', "src=\"https://tracker")


def assert_clean_html(html: str, where: str) -> None:
    for needle in (*MARKUP, *CONTROL):
        assert needle not in html, f"{where}: {needle!r} reached the page unescaped"


def assert_no_control(text: str, where: str) -> None:
    for char in CONTROL:
        assert char not in text, f"{where}: {char!r} reached the output raw"


# ---------------------------------------------------------------- HTML


def test_docs_site_escapes_every_label(hostile: Project, tmp_path: Path) -> None:
    status, _, _ = cli("docs", "--spec-dir", hostile.specs, "--out", tmp_path / "site")
    assert status == 0
    pages = sorted((tmp_path / "site").rglob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "sources.html", "spend.html",
                                       "tree.html", "hostile_exp.html"}
    for page in pages:
        html = page.read_text(encoding="utf-8")
        if page.name == "index.html":  # the search: its JSON index and its script, nothing else
            html, found = re.subn(r'<script type="application/json" id="search-index">'
                                  r'[^<]*</script>\n<script>\n\(function \(\) \{.*?'
                                  r'\}\)\(\);\n</script>', "", html, flags=re.S)
            assert found == 1
        assert_clean_html(html, page.name)
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    # The text is there, shown as text (not dropped), and the template did not evaluate it.
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in index
    assert "{{ 7*7 }}" in index
    assert "\\x1b[31mRED" in index  # control characters are shown, visibly


def test_experiment_page_renders_the_plan_without_raw_html(hostile: Project,
                                                           tmp_path: Path) -> None:
    cli("docs", "--spec-dir", hostile.specs, "--out", tmp_path / "site")
    page = (tmp_path / "site" / "experiments" / "hostile_exp.html").read_text(encoding="utf-8")
    assert_clean_html(page, "experiment page")
    assert "<h1>Analysis plan: [bold red]rich[/] markup &lt;/script&gt;" in page
    assert "<a " not in page.split("<main>")[1]  # no link made from a label


def test_html_report_escapes_every_label(hostile: Project, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    status, _, _ = cli("run", "hostile_exp", "--spec-dir", hostile.specs, "--warehouse",
                       hostile.url, "--html", report)
    assert status == 0
    html = report.read_text(encoding="utf-8")
    assert_clean_html(html, "HTML report")
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "{{ 7*7 }}" in html  # shown, not evaluated
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert "<script" not in svg and "\x1b" not in svg


def test_one_environment_escapes_every_template() -> None:
    package_templates = [("metricspec.document", "templates/docs"),
                         ("metricspec.report", "templates")]
    for package, folder in package_templates:
        env = environment(package, folder, "html")
        assert env.autoescape is True
        assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
        with pytest.raises(Exception, match="undefined"):
            env.from_string("{{ missing }}").render()
    package = Path(metricspec.__file__).parent
    for source in package.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        if source.name != "templating.py":
            assert "Environment(" not in text and "Template(" not in text, source


# ---------------------------------------------------------------- Markdown


@pytest.fixture(scope="module")
def plan_markdown(hostile: Project, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("plan") / "plan.md"
    status, _, _ = cli("plan", "hostile_exp", "--spec-dir", hostile.specs, "--out", out)
    assert status == 0
    return out.read_text(encoding="utf-8")


def test_plan_markdown_carries_no_raw_html_or_control(plan_markdown: str) -> None:
    assert_no_control(plan_markdown, "plan.md")
    # Even a renderer that passes raw HTML through (CommonMark's default) shows text only.
    html = MarkdownIt("commonmark").enable("table").render(plan_markdown)
    assert_clean_html(html, "plan.md rendered")
    assert "<a " not in html and "<img" not in html
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html


def test_plan_markdown_tables_keep_their_shape(plan_markdown: str) -> None:
    tokens = MarkdownIt("commonmark").enable("table").parse(plan_markdown)
    rows, cells = 0, 0
    for token in tokens:
        if token.type == "tr_open":
            rows, cells = rows + 1, 0
        elif token.type in ("td_open", "th_open"):
            cells += 1
        elif token.type == "tr_close":
            assert cells == 2, "a pipe in spec text split a table cell"
    assert rows >= 6
    assert "`variant <> '\\|x\\| <b>'`" in plan_markdown  # the filter, quoted as code


def test_plan_markdown_headings_and_lists_come_from_the_template_only(
        plan_markdown: str) -> None:
    headings = [line for line in plan_markdown.splitlines() if line.startswith("#")]
    assert all(line.startswith(("# Analysis plan", "## ", "### ")) for line in headings)


@pytest.mark.parametrize("text", [*HOSTILE, PAYLOAD, "1. not a list", "- not a list",
                                  "```fence", "a\nb\n\n# c", "&lt;b&gt;", "\\<b>"])
def test_markdown_text_renders_as_written(text: str) -> None:
    html = MarkdownIt("commonmark").render(markdown_text(text))
    inner = re.sub(r"^<p>|</p>\n$", "", html)
    shown = html_lib.unescape(inner)
    assert shown == " ".join(printable(text, keep="\n\t").split())


@pytest.mark.parametrize("text", ["a`b", "``", "`x`", "x | y", "<b>"])
def test_markdown_code_renders_as_written(text: str) -> None:
    html = MarkdownIt("commonmark").render(markdown_code(text))
    assert html_lib.unescape(re.sub(r"</?(p|code)>|\n", "", html)) == text


# ---------------------------------------------------------------- terminal and JSON


def test_run_prints_no_control_character_and_no_markup(hostile: Project) -> None:
    status, stdout, stderr = cli("run", "hostile_exp", "--spec-dir", hostile.specs,
                                 "--warehouse", hostile.url)
    assert status == 0
    assert_no_control(stdout + stderr, "run")
    assert "[bold red]rich[/] markup" in stdout  # rich markup in a label is shown as text


@pytest.mark.parametrize("text", HOSTILE)
def test_terminal_report_shows_each_label_as_text(hostile: Project, text: str) -> None:
    from dataclasses import replace
    from io import StringIO

    from rich.console import Console

    from metricspec.analyze import analyze_rows
    from metricspec.report.experiment import build_report
    from metricspec.report.terminal import render_experiment
    from metricspec.run.connections import connect
    from metricspec.run.execute import run_experiment
    from metricspec.workspace import Workspace

    ws = Workspace.load(hostile.specs)
    with connect(hostile.url) as conn:
        done = run_experiment(ws.index, "hostile_exp", conn, lambda step: None)
    report = build_report(done.plan, analyze_rows(done.plan, done.rows), warehouse="w")
    report = replace(report, label=text, description=text, reasons=(text,),
                     metrics=tuple(replace(m, label=text[:30]) for m in report.metrics))
    screen = StringIO()
    render_experiment(report, Console(file=screen, width=200, force_terminal=False))
    shown = screen.getvalue()
    assert_no_control(shown, text)
    assert printable(text) in shown


def test_terminal_header_puts_label_and_name_on_their_own_lines(hostile: Project) -> None:
    status, stdout, _ = cli("run", "hostile_exp", "--spec-dir", hostile.specs,
                            "--warehouse", hostile.url)
    assert status == 0
    assert "\\n" not in stdout  # line breaks of the layout are not shown escaped
    assert any(line.strip(" │").startswith("experiment hostile_exp")
               for line in stdout.splitlines())


def test_json_report_is_json(hostile: Project) -> None:
    status, stdout, _ = cli("run", "hostile_exp", "--spec-dir", hostile.specs, "--warehouse",
                            hostile.url, "--format", "json")
    assert status == 0
    assert_no_control(stdout, "run --format json")
    assert json.loads(stdout)["report"]["label"] == PAYLOAD  # exact, escaped by JSON itself


def test_warehouse_values_are_shown_not_sent(hostile: Project) -> None:
    status, stdout, _ = cli("query", "event_count", "--by", "note", "--spec-dir",
                            hostile.specs, "--warehouse", hostile.url, "--since", "2026-01-01",
                            "--until", "2026-01-03")
    assert status == 0
    assert_no_control(stdout, "query")
    assert "\\x1b[31mdata" in stdout
    status, stdout, _ = cli("monitor", "watch", "--spec-dir", hostile.specs, "--warehouse",
                            hostile.url, "--since", "2026-01-01", "--until", "2026-01-04")
    assert status == 1  # the monitor fires
    assert_no_control(stdout, "monitor")
    assert "\\x1b[31mdata" in stdout


def test_plan_to_stdout_and_check_print_no_control(hostile: Project) -> None:
    status, stdout, _ = cli("plan", "hostile_exp", "--spec-dir", hostile.specs)
    assert status == 0
    assert_no_control(stdout, "plan")
    status, stdout, _ = cli("check", hostile.specs)
    assert status == 0
    assert_no_control(stdout, "check")


def test_a_hostile_command_line_name_is_shown_not_sent(hostile: Project) -> None:
    status, stdout, stderr = cli("sql", "\x1b[2Jnope[/]", "--spec-dir", hostile.specs)
    assert status == 2
    assert_no_control(stdout + stderr, "sql")
    assert "\\x1b[2Jnope[/]" in stdout + stderr


@pytest.mark.parametrize("char", ["\x1b", "\x07", "\x08", "\r", "\n", "\x00", "\x7f", "\x9b",
                                  "\u202e", "\u2066"])
def test_printable_makes_every_control_visible(char: str) -> None:
    shown = printable(f"a{char}b")
    assert char not in shown and shown.startswith("a\\") and shown.endswith("b")
    assert printable(f"a{char}b", replacement="?") == "a?b"


@pytest.mark.parametrize("fmt", ["text", "github", "json"])
def test_check_prints_no_control_character_in_any_format(tmp_path: Path, fmt: str) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text('sources:\n  events: {table: a.b, entities: [u], time: ts}\n'
                    'metrics:\n  m:\n    expr: count(events)\n'
                    'monitors:\n  w:\n    metric: "\\e]0;pwned\\a\\e[2Jx\\r"\n'
                    '    every: 1 day\n    alert: above 0\n', encoding="utf-8")
    status, stdout, stderr = cli("check", spec, "--format", fmt)
    assert status == 1
    assert_no_control(stdout + stderr, f"check --format {fmt}")
    assert "MS201" in stdout
