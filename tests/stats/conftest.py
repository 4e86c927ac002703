"""Shared fixtures for the statistics-engine tests: the reference data set and its numbers.

The reference material lives in the shared folder next to the repository
(``<repo>/../shared/reference``); tests that need it are skipped with a clear message when
that folder is absent.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from metricspec.stats import Moments

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


def _require_shared() -> None:
    if not REFERENCE.is_dir():
        pytest.skip(f"shared reference folder not found at {REFERENCE.resolve()}")


@pytest.fixture(scope="session")
def reference() -> Reference:
    """Parsed /work/shared/reference/reference.txt."""
    _require_shared()
    return Reference((REFERENCE / "reference.txt").read_text())


@pytest.fixture(scope="session")
def units() -> dict[str, dict[str, np.ndarray]]:
    """Unit-level columns of data.csv per variant (used only to build sufficient statistics)."""
    _require_shared()
    cols: dict[str, dict[str, list[float]]] = {}
    with open(REFERENCE / "data.csv", newline="") as fh:
        for rec in csv.DictReader(fh):
            arm = cols.setdefault(rec["variant"], {})
            for k, v in rec.items():
                if k not in ("variant", "user_id"):
                    arm.setdefault(k, []).append(float(v))
    return {v: {k: np.asarray(x) for k, x in c.items()} for v, c in cols.items()}


@pytest.fixture(scope="session")
def moments(units: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, Moments]]:
    """Per variant, per metric: revenue (mean + CUPED), conv (0/1), cps (clicks/sessions)."""
    out: dict[str, dict[str, Moments]] = {}
    for arm, u in units.items():
        out[arm] = {
            "revenue": Moments.from_units(
                {"revenue.x": u["revenue"], "revenue.c": u["pre_revenue"]}
            ),
            "conv": Moments.from_units({"conv.x": u["converted"]}),
            "cps": Moments.from_units(
                {
                    "cps.x": u["clicks"],
                    "cps.y": u["sessions"],
                    "cps.c": u["pre_clicks"],
                    "cps.d": u["pre_sessions"],
                }
            ),
        }
    return out
