"""The user docs stay true: every code is documented, and every example parses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from metricspec.diagnostics import CODES
from metricspec.parse import parse_source

DOCS = Path(__file__).resolve().parents[2] / "docs"
LANGUAGE = DOCS / "language.md"
DIAGNOSTICS = DOCS / "diagnostics.md"

_BLOCK = re.compile(r"```(mspec|yaml)\n(.*?)```", re.DOTALL)


def blocks(kind: str) -> list[str]:
    return [m.group(2) for m in _BLOCK.finditer(LANGUAGE.read_text(encoding="utf-8"))
            if m.group(1) == kind]


def test_every_code_has_a_section() -> None:
    text = DIAGNOSTICS.read_text(encoding="utf-8")
    sections = set(re.findall(r"^### (MS\d{3})$", text, re.MULTILINE))
    table = set(re.findall(r"^\| (MS9\d\d) \|", text, re.MULTILINE))
    assert sections | table == set(CODES)


def test_links_to_codes_point_at_sections() -> None:
    documented = set(re.findall(r"^### (MS\d{3})$", DIAGNOSTICS.read_text(encoding="utf-8"),
                                re.MULTILINE))
    for doc in (LANGUAGE, DIAGNOSTICS):
        for anchor in re.findall(r"diagnostics\.md#(ms\d{3})", doc.read_text(encoding="utf-8")):
            assert anchor.upper() in documented, f"{doc.name} links to a missing #{anchor}"


@pytest.mark.parametrize("kind,suffix", [("mspec", ".mspec"), ("yaml", ".yaml")])
def test_examples_in_the_language_reference_parse(kind: str, suffix: str) -> None:
    examples = blocks(kind)
    assert len(examples) >= 8
    for number, example in enumerate(examples, start=1):
        result = parse_source(example, f"example-{number}{suffix}")
        assert not result.diagnostics, (example, [
            (d.code, d.span.line, d.span.column, d.message) for d in result.diagnostics])
        assert result.objects
