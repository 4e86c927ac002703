"""A small experiment and its warehouse for the incremental-refresh tests (DuckDB and
PostgreSQL): events arrive day by day, some late, and late assignment rows move exposures."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from metricspec.workspace import Workspace

SPEC = """
source assignments = table app.assignments {
  entity user_id: string
  time assigned_ts: timestamp
  dimension platform: string
  column variant: string
}
source events = table app.events {
  entity user_id: string
  time ts: timestamp
  dimension kind: string
  column amount: number, items: integer
}
metric buys = count(events where kind = 'buy') { direction up }
metric revenue = sum(events.amount) { direction up }
metric items = sum(events.items) { direction up }
metric buy_rate = count(events where kind = 'buy') / count(events) { direction up }
metric biggest = max(events.amount) { direction up }
experiment checkout "Checkout" {
  unit user_id
  assignment assignments variant variant
  variants control 50% control, treatment 50%
  window 2026-03-01 .. 2026-03-14
  primary revenue
  secondary buys, buy_rate, items
  segments platform
  correction holm
}
experiment checkout_w "Winsorised" {
  unit user_id
  assignment assignments variant variant
  variants control 50% control, treatment 50%
  window 2026-03-01 .. 2026-03-14
  primary revenue
  winsorize revenue at 90%
}
"""

START = dt.datetime(2026, 3, 1)


def workspace(folder: Path) -> Workspace:
    (folder / "spec.mspec").write_text(SPEC)
    ws = Workspace.load(folder)
    assert ws.ok, ws.render()
    return ws


def rows(seed: int = 7, users: int = 300) -> tuple[list[tuple], list[tuple]]:
    """(assignments, events): each row with its timestamp; events of every day of the window
    (and some before the exposures and after the window's end)."""
    rng = random.Random(seed)
    assignments, events = [], []
    for u in range(users):
        user = f"u{u:04d}"
        at = START + dt.timedelta(seconds=rng.randrange(13 * 86400))
        variant = rng.choice(["control", "treatment"])
        platform = rng.choice(["ios", "web"])
        assignments.append((user, at, variant, platform))
        if rng.random() < 0.05:  # a second exposure of the same arm, later
            assignments.append((user, at + dt.timedelta(hours=rng.randrange(1, 48)),
                                variant, platform))
        if rng.random() < 0.02:  # a unit in both arms: dropped
            other = "treatment" if variant == "control" else "control"
            assignments.append((user, at + dt.timedelta(hours=3), other, platform))
        for _ in range(rng.randrange(0, 25)):
            ts = at + dt.timedelta(seconds=rng.randrange(-2 * 86400, 9 * 86400))
            kind = rng.choice(["view", "view", "buy"])
            amount = round(rng.uniform(1, 100), 2) if kind == "buy" else 0.0
            events.append((user, ts, kind, amount, rng.randrange(0, 4)))
    return assignments, events
