"""A temporary git repository whose history holds realistic spec changes, one per commit.

`main` holds the first version; the branch `feature` then tightens a filter, renames a metric,
relaxes a margin, edits a label and swaps a source — each a commit tagged with its name."""

from __future__ import annotations

import subprocess
from pathlib import Path

SOURCES = """\
# Warehouse tables.
source feedback "Feedback" = table support.feedback {
  entity user_id: string, conversation_id: string
  time ts: timestamp
  dimension channel: string
  column thumbs: string, csat_score: integer
}

source feedback_v2 "Feedback (deduplicated)" = table support.feedback_v2 {
  entity user_id: string, conversation_id: string
  time ts: timestamp
  dimension channel: string
  column thumbs: string, csat_score: integer
}

source messages "Messages" = table support.messages {
  entity user_id: string, conversation_id: string
  time ts: timestamp
  dimension channel: string
  column latency_ms: number
}

source assignments = table support.assignments {
  entity user_id: string
  time assigned_ts: timestamp
  column experiment_id: string, variant: string
}
"""

METRICS = """\
metric csat "CSAT" = count(feedback where thumbs = 'up')
  / count(feedback where thumbs is not null) {
  format percent; direction up
}
metric csat_7d = rolling(csat, 7 days)
metric survey_score "Survey score" = avg(feedback.csat_score) { direction up }
metric latency_p95 "p95 latency" = p95(messages.latency_ms) { direction down }
"""

EXPERIMENTS = """\
experiment tone "Warmer tone" {
  unit user_id
  assignment assignments variant variant where experiment_id = 'tone'
  variants control 50% control, treatment 50%
  window 2026-10-15 .. 2026-10-28
  primary csat
  guardrail latency_p95 max_increase 10%
}

experiment greeting "New greeting" {
  unit user_id
  assignment assignments variant variant where experiment_id = 'greeting'
  variants control 50% control, treatment 50%
  window 2026-09-01 .. 2026-09-14
  primary survey_score
  guardrail latency_p95 max_increase 10%
}

monitor csat_drop "CSAT drop" {
  metric csat
  every 1 hour
  baseline trailing 1 day
  alert when below baseline by 15%
}

kpi quality "Quality" {
  north_star csat
  csat <- drivers(latency_p95)
}
"""

# (tag, file, old text, new text): each step of the feature branch
STEPS = [
    ("filter-tightened", "metrics.mspec", "count(feedback where thumbs = 'up')",
     "count(feedback where thumbs = 'up' and channel <> 'test')"),
    ("metric-renamed", "*", "latency_p95", "p95_latency"),
    ("margin-relaxed", "experiments.mspec",
     "primary survey_score\n  guardrail p95_latency max_increase 10%",
     "primary survey_score\n  guardrail p95_latency max_increase 15%"),
    ("label-edited", "metrics.mspec", '"Survey score"', '"CSAT survey score (1-5)"'),
    ("source-swapped", "metrics.mspec", "avg(feedback.csat_score)",
     "avg(feedback_v2.csat_score)"),
]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True)
    return done.stdout


def build(repo: Path) -> Path:
    """Create the repository; return it (its specs are in `specs/`)."""
    specs = repo / "specs"
    specs.mkdir(parents=True)
    for name, text in (("sources.mspec", SOURCES), ("metrics.mspec", METRICS),
                       ("experiments.mspec", EXPERIMENTS)):
        (specs / name).write_text(text, encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "test@example.com")
    git(repo, "config", "user.name", "Test")
    git(repo, "config", "commit.gpgsign", "false")
    git(repo, "add", "specs")
    git(repo, "commit", "-q", "-m", "first specs")
    git(repo, "tag", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    for tag, file, old, new in STEPS:
        for path in sorted(specs.glob(file if file != "*" else "*.mspec")):
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace(old, new), encoding="utf-8")
        git(repo, "commit", "-q", "-am", tag)
        git(repo, "tag", tag)
    return repo
