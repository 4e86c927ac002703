"""Helpers for the output tests: a project whose every free-text field is hostile, a tiny
DuckDB warehouse it runs on, the command line called in-process, folder snapshots."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from metricspec.cli import app

# One member of each class of hostile text: rich console markup, HTML markup and script, an
# event handler, links and images in Markdown, a template expression, ANSI colour (CSI), an
# OSC title change, bell, carriage return and backspace, an 8-bit CSI, a Unicode direction
# override, table and heading syntax.
HOSTILE = (
    "[bold red]rich[/] markup",
    "</script><script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "[click](javascript:alert(3))",
    "![pixel](https://tracker.example/p.png)",
    "{{ 7*7 }}",
    "\x1b[31mRED\x1b[0m",
    "\x1b]0;pwned\x07",
    "\rover\x08written",
    "\x9b2J",
    "\u202eevil",
    "| cell | break |",
    "# heading",
)
PAYLOAD = " ".join(HOSTILE)
# Characters that must never reach a terminal, a text file or Markdown raw.
CONTROL = ("\x1b", "\x07", "\x08", "\r", "\x9b", "\u202e")


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar holding `text` exactly (JSON strings are YAML)."""
    return json.dumps(text)


def hostile_spec(payload: str = PAYLOAD) -> str:
    """A valid project (names are identifiers) with `payload` in every free-text field."""
    p = _quoted(payload)
    return f"""\
sources:
  assignments:
    label: {p}
    description: {p}
    owner: {p}
    table: main.assignments
    entities: [user_id]
    time: ts
    dimensions: [variant]
  events:
    label: {p}
    description: {p}
    owner: {p}
    table: main.events
    entities: [user_id]
    time: ts
    dimensions: [note]
    columns: {{value: number}}
metrics:
  spend:
    label: {p}
    description: {p}
    owner: {p}
    tags: [{p}, north-star]
    expr: sum(events.value) / count_distinct(events.user_id)
    direction: up
  event_count:
    label: {p}
    expr: count(events)
    direction: up
    baseline: {{mean: 5, sd: 2}}
kpis:
  tree:
    label: {p}
    description: {p}
    owner: {p}
    north_star: spend
experiments:
  hostile_exp:
    label: {p}
    description: {p}
    owner: {p}
    unit: user_id
    assignment: {{source: assignments, variant: variant, where: "variant <> '|x| <b>'"}}
    variants: {{control: 50%, treatment: 50%}}
    control: control
    window: 2026-01-01 .. 2026-01-14
    primary: [spend]
    secondary: [event_count]
    traffic: 1000 per day
monitors:
  watch:
    label: {p}
    description: {p}
    owner: {p}
    metric: event_count
    every: 1 day
    alert: above 0
    dimensions: [note]
"""


@dataclass(frozen=True)
class Project:
    specs: Path
    database: Path

    @property
    def url(self) -> str:
        return f"duckdb:///{self.database}"


def build_warehouse(path: Path) -> None:
    """Assignments and events for 400 users over the experiment's window."""
    rng = random.Random(7)
    start = dt.datetime(2026, 1, 1)
    assignments, events = [], []
    for user in range(400):
        variant = "control" if user % 2 else "treatment"
        seen = start + dt.timedelta(hours=rng.randrange(0, 24 * 12))
        assignments.append((user, variant, seen))
        for _ in range(rng.randrange(1, 6)):
            when = seen + dt.timedelta(hours=rng.randrange(0, 24))
            events.append((user, when, rng.uniform(0, 10), "\x1b[31mdata\x1b[0m"))
    folder = path.parent
    with (folder / "assignments.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(assignments)
    with (folder / "events.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(events)
    with duckdb.connect(str(path)) as conn:  # one bulk load each (executemany is slow)
        conn.execute("CREATE TABLE assignments (user_id INTEGER, variant VARCHAR, ts TIMESTAMP)")
        conn.execute("CREATE TABLE events (user_id INTEGER, ts TIMESTAMP, value DOUBLE, "
                     "note VARCHAR)")
        for table in ("assignments", "events"):
            conn.execute(f"COPY {table} FROM '{folder / table}.csv' (HEADER false)")


runner = CliRunner()


def cli(*args: str | os.PathLike[str]) -> tuple[int, str, str]:
    """Run `metricspec ARGS` in-process: (exit status, stdout, stderr). A Python exception
    escaping the command fails the test: nothing a user types may end in a traceback."""
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"metricspec {args} raised") from result.exception
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def tree(folder: Path) -> set[str]:
    """Every path under `folder`, relative to it (to prove nothing was written elsewhere)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}
