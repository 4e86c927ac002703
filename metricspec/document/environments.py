"""The document package's jinja2 environments, each built on first use through
`templating.environment` (the one factory): HTML pages autoescaped, Markdown escaped as
Markdown text by `finalize`."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment

from metricspec.templating import environment


@cache
def markdown_templates() -> Environment:
    """Markdown documents (the analysis plan): every value printed is escaped as Markdown
    text (spec text never becomes HTML, links or table cells); code spans and paragraphs go
    through the `md_*` filters."""
    return environment("metricspec.document", "templates", "markdown")


@cache
def html_templates() -> Environment:
    """The docs site's pages (`templates/docs`)."""
    return environment("metricspec.document", "templates/docs", "html")
