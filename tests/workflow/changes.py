"""Changes to the example specs for the tests that compare a check or a build after a
change with one from nothing (`test_incremental_check.py`, `test_rebuild.py`)."""

from __future__ import annotations

import random
import re
from pathlib import Path

SPECS = Path(__file__).parents[2] / "specs"

# Edits that keep most specs valid: each is a pattern and what may replace it.
MUTATIONS = [
    (r"\bavg\(", ["sum(", "max(", "min(", "avg("]),
    (r"\bp95\(", ["p90(", "p50(", "median("]),
    (r"\bthumbs = 'up'", ["thumbs = 'down'", "thumbs is not null"]),
    (r"\bmin_n \d+", ["min_n 25", "min_n 300"]),
    (r"\balpha 0\.\d+", ["alpha 0.1", "alpha 0.01"]),
    (r"\bmax_increase \d+%", ["max_increase 5%", "max_increase 20%"]),
    (r"\n\n", ["\n\n# moved\n\n", "\n\n"]),
    (r"\bfeedback\.csat_score\b", ["messages.latency_ms", "feedback.effort_score"]),
    (r"\bcount\(conversations\)", ["count(conversations where escalated)",
                                    "count(conversationz)"]),
]


def mutate(rng: random.Random, folder: Path) -> tuple[Path, str, str]:
    """One random edit of a spec file under `folder`: the file, its text before and the
    text the edit replaced."""
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".mspec", ".yaml"))
    texts = {path: path.read_text(encoding="utf-8") for path in files}
    places = [(path, found, choices) for path, text in texts.items()
              for pattern, choices in MUTATIONS for found in re.finditer(pattern, text)]
    path, place, choices = rng.choice(places)
    text = texts[path]
    path.write_text(text[:place.start()] + rng.choice(choices) + text[place.end():],
                    encoding="utf-8")
    return path, text, place.group(0)
