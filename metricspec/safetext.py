"""Spec text made safe to show: in a terminal, in a text or Markdown file, in HTML.

Labels, descriptions, owners and units are free text written by whoever edits a spec (and
data values come from a warehouse). Before any of it reaches an output, control characters
and Unicode direction overrides are made visible (`printable`), so an ANSI escape sequence
cannot recolour, move the cursor in, retitle or clear the terminal of the person reading a
report, and a Markdown document quotes the text instead of interpreting it (`markdown_text`,
`markdown_code`). HTML escaping is jinja2's (see `metricspec.templating`).

Imports nothing from metricspec, so every stage (diagnostics included) can use it.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls (U+0080–U+009F: 8-bit CSI, OSC, …), and the Unicode
# bidirectional overrides and isolates that can reorder what a reader sees.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, keep: str = "", replacement: str | None = None) -> str:
    """`text` with every control character shown as a visible escape (`\\x1b`, `\\r`), or
    replaced by `replacement` (one character keeps columns aligned under a caret). The
    characters in `keep` (e.g. newline and tab in multi-line text) are left alone.

    >>> printable("red \\x1b[31mtext\\x07\\r")
    'red \\\\x1b[31mtext\\\\x07\\\\r'
    >>> printable("a\\tb\\nc", keep="\\n\\t")
    'a\\tb\\nc'
    >>> printable("\\u202eevil", replacement="?")
    '?evil'
    """

    def swap(match: re.Match[str]) -> str:
        char = match.group(0)
        if char in keep:
            return char
        return replacement if replacement is not None else _visible(char)

    return _UNSAFE.sub(swap, text)


# ---------------------------------------------------------------- Markdown

# ASCII punctuation that can start Markdown syntax anywhere on a line: code, emphasis,
# links and images, raw HTML and entities, table cells, strikethrough, escapes themselves.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>&|~])")
# Punctuation that only means something at the start of a line (headings, lists, quotes,
# setext underlines, ordered lists).
_MD_LINE_START = re.compile(r"^(\s*)([#+\-=]|\d+(?=[.)]))")


def markdown_text(text: str) -> str:
    """Free text as one line of Markdown that renders exactly as written: no HTML, links,
    images, emphasis or table breaks; newlines become spaces.

    >>> markdown_text("</script><b>x</b> [a](javascript:alert(1)) 2*3")
    '\\\\</script\\\\>\\\\<b\\\\>x\\\\</b\\\\> \\\\[a\\\\](javascript:alert(1)) 2\\\\*3'
    >>> markdown_text("# not a heading")
    '\\\\# not a heading'
    """
    line = " ".join(printable(str(text), keep="\n\t").split())
    escaped = _MD_INLINE.sub(r"\\\1", line)
    start = _MD_LINE_START.match(escaped)
    if start:
        # `1.` stays text: escape the punctuation after the digits, or the first character.
        head, mark = start.group(1), start.group(2)
        rest = escaped[start.end():]
        escaped = (f"{head}{mark}\\{rest}" if mark[0].isdigit() else f"{head}\\{mark}{rest}")
    return escaped


def markdown_paragraphs(text: str) -> str:
    """Multi-line free text as Markdown paragraphs (blank lines separate them), each one
    escaped like `markdown_text`."""
    blocks = re.split(r"\n\s*\n", printable(str(text), keep="\n\t"))
    return "\n\n".join(markdown_text(block) for block in blocks if block.strip())


def markdown_code(text: str, *, in_table: bool = False) -> str:
    """`text` as a Markdown code span, whatever backticks it holds (a longer fence, padded);
    in a table cell its pipes are escaped, as GitHub-flavoured tables require.

    >>> markdown_code("a`b")
    '``a`b``'
    >>> markdown_code("x | y", in_table=True)
    '`x \\\\| y`'
    """
    body = " ".join(printable(str(text), keep="\n\t").split()) or " "
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    if body.startswith("`") or body.endswith("`"):
        body = f" {body} "
    if in_table:
        body = body.replace("|", "\\|")
    return f"{fence}{body}{fence}"
