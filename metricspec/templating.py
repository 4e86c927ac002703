"""The one way metricspec builds jinja2 environments, so every template escapes by
construction.

- HTML (`kind="html"`): autoescape on for every template, whatever its file name; every
  printed value has its control characters made visible first (`safetext.printable`), and
  values already marked safe (`Markup`: SVG drawn by metricspec, rendered Markdown) are
  cleaned of control characters too.
- Markdown (`kind="markdown"`): every printed value is escaped as Markdown text
  (`safetext.markdown_text`) unless a filter marked it as already Markdown (`md_code`,
  `md_paragraphs` return `Markup`): spec text can neither inject HTML nor links, images or
  table cells.

Both use `StrictUndefined`: a template that names a missing value fails loudly in the
tests instead of printing an empty string in a report.
"""

from __future__ import annotations

from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from metricspec.outputs import file_name
from metricspec.safetext import markdown_code, markdown_paragraphs, markdown_text, printable

Kind = Literal["html", "markdown"]


def _finalize_html(value: Any) -> Any:
    if isinstance(value, Markup):
        return Markup(printable(str(value), keep="\n\t"))
    if isinstance(value, str):
        return printable(value, keep="\n\t")
    return value


def _finalize_markdown(value: Any) -> Any:
    if isinstance(value, Markup):
        return str(value)
    return markdown_text("" if value is None else str(value))


def _page(name: str, suffix: str = ".html") -> str:
    """The file name of an object's page (the same mapping the writers use)."""
    return file_name(name, suffix)


def environment(package: str, folder: str, kind: Kind) -> Environment:
    """A jinja2 environment loading templates from `package`'s `folder`."""
    if kind == "html":
        env = Environment(
            loader=PackageLoader(package, folder),
            autoescape=True,
            undefined=StrictUndefined,
            finalize=_finalize_html,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
    else:
        env = Environment(
            loader=PackageLoader(package, folder),
            autoescape=False,  # Markdown: escaped by `finalize`, not as HTML
            undefined=StrictUndefined,
            finalize=_finalize_markdown,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        env.filters["md_code"] = lambda value, in_table=False: Markup(
            markdown_code(str(value), in_table=in_table))
        env.filters["md_paragraphs"] = lambda value: Markup(markdown_paragraphs(str(value)))
    env.filters["page"] = _page
    return env
