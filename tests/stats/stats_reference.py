"""Helpers for the statistics-engine tests: where the reference material is, and a parser.

The reference material lives in the shared folder next to the repository
(``<repo>/../shared/reference``); tests that need it are skipped with a clear message when
that folder is absent.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared"
REFERENCE = SHARED / "reference"

_PAIR = re.compile(r"([A-Za-z_][\w]*)=(\[[^\]]*\]|[-+]?[0-9.]+(?:e[-+]?\d+)?)")


class Reference:
    """The lines of reference.txt grouped by library block (A, B, C, D, E)."""

    def __init__(self, text: str) -> None:
        self.blocks: dict[str, list[str]] = {}
        block = "head"
        for line in text.splitlines():
            m = re.match(r"== ([A-E])\.", line)
            if m:
                block = m.group(1)
                continue
            self.blocks.setdefault(block, []).append(line)

    def line(self, block: str, section: str, *contains: str) -> str:
        """Return the unique line of ``block`` in ``(section)`` containing every string."""
        hits = [
            ln
            for ln in self.blocks[block]
            if ln.strip().startswith(f"({section})") and all(c in ln for c in contains)
        ]
        assert len(hits) == 1, (block, section, contains, hits)
        return hits[0]

    def values(self, block: str, section: str, *contains: str) -> dict[str, float]:
        """Return the key=value numbers of one line (the last occurrence of a key wins)."""
        out: dict[str, float] = {}
        for key, raw in _PAIR.findall(self.line(block, section, *contains)):
            if not raw.startswith("["):
                out[key] = float(raw)
        return out

    def lists(self, block: str, section: str, *contains: str) -> dict[str, list[float]]:
        """Return the numeric lists of one line: ``key=[...]``, and ``"_"`` for ``: [...]``."""
        line = self.line(block, section, *contains)
        out: dict[str, list[float]] = {}
        for key, raw in re.findall(r"(\w+)=\[([^\]]*)\]", line):
            items = [s.strip() for s in raw.split(",")]
            if all(re.fullmatch(r"[-+0-9.e]+", s) for s in items):
                out[key] = [float(s) for s in items]
        bare = re.search(r":\s*\[([^\]]*)\]\s*$", line)
        if bare:
            out["_"] = [float(s) for s in bare.group(1).split(",")]
        return out
