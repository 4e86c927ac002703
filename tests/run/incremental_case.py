"""A small experiment and its warehouse for the incremental-refresh tests (DuckDB and
PostgreSQL): events arrive day by day, some late, and late assignment rows move exposures."""

from __future__ import annotations

import datetime as dt
import math
import random
from pathlib import Path

from metricspec.run.connections import Connection
from metricspec.run.execute import run_experiment
from metricspec.run.incremental import run_incremental
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
source clicks = table app.events {
  entity user_id: string
  time ts: timestamp
  dimension kind: string
  column amount: number
}
source users = table app.users {
  entity user_id: string primary
  dimension tier: string
}
metric buys = count(events where kind = 'buy') { direction up }
metric gold_revenue = sum(events.amount where users.tier = 'gold') { direction up }
metric revenue = sum(events.amount) { direction up }
metric items = sum(events.items) { direction up }
metric buy_rate = count(events where kind = 'buy') / count(events) { direction up }
metric biggest = max(events.amount) { direction up }
metric views = count(clicks where kind = 'view') { direction up }
metric logged = count(assignments) { direction none }
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
experiment checkout_j "Segmented and filtered through a join" {
  unit user_id
  assignment assignments variant variant where users.tier <> 'tin'
  variants control 50% control, treatment 50%
  window 2026-03-01 .. 2026-03-14
  primary revenue
  secondary gold_revenue, buys
  segments platform, users.tier
}
experiment checkout_m "Metrics of three sources" {
  unit user_id
  assignment assignments variant variant
  variants control 50% control, treatment 50%
  window 2026-03-01 .. 2026-03-14
  primary revenue
  secondary views, logged, buy_rate
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
DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)
TABLES = (
    "CREATE TABLE app.assignments (user_id VARCHAR(20), assigned_ts TIMESTAMP, "
    "variant VARCHAR(20), platform VARCHAR(20))",
    "CREATE TABLE app.events (user_id VARCHAR(20), ts TIMESTAMP, kind VARCHAR(20), "
    "amount DOUBLE PRECISION, items INTEGER)",
    "CREATE TABLE app.users (user_id VARCHAR(20), tier VARCHAR(20))",
)
#: each user's tier (a dimension table; every 17th user has no row: a NULL tier)
USERS = [(f"u{u:04d}", ("gold", "silver", "tin")[u % 3]) for u in range(300) if u % 17]


def create_tables(conn: Connection) -> None:
    conn.execute("CREATE SCHEMA app")
    for statement in TABLES:
        conn.execute(statement)
    insert(conn, "users", USERS)


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


def insert(conn: Connection, table: str, values: list[tuple]) -> None:
    for chunk in range(0, len(values), 500):
        literal = ", ".join("(" + ", ".join(_lit(v) for v in row) + ")"
                            for row in values[chunk:chunk + 500])
        if literal:
            conn.execute(f"INSERT INTO app.{table} VALUES {literal}")


def _lit(value: object) -> str:
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def same(full: list[dict], incremental: list[dict]) -> None:
    def key(r: dict) -> tuple:
        return (r["segment"], str(r["segment_value"]), r["variant"], r["metric"])
    assert len(full) == len(incremental) > 0
    for a, b in zip(sorted(full, key=key), sorted(incremental, key=key), strict=True):
        assert key(a) == key(b)
        for column, value in a.items():
            other = b[column]
            if isinstance(value, float) or isinstance(other, float):
                assert math.isclose(float(value), float(other), rel_tol=1e-12, abs_tol=1e-9), (
                    key(a), column, value, other)
            else:
                assert value == other, (key(a), column, value, other)


def refreshes(conn: Connection, tmp_path: Path, experiment: str) -> None:
    """Refresh after days 2, 5, 6, 9, 14 and 16 (after the window), each time comparing the
    statistics with a full run on what the warehouse holds then; late events arrive a
    refresh later, and at day 9 late assignment rows move exposures earlier."""
    index = workspace(tmp_path).index
    assignments, events = rows()
    rng = random.Random(3)
    held: list[tuple] = []
    loaded_a: set[int] = set()
    loaded_e: set[int] = set()
    outcomes = []
    for day in (2, 5, 6, 9, 14, 16):
        now = START + day * DAY
        # everything before `now` arrives, except ~5% of the last day's events, held back
        # until the next refresh (late by less than the 1-day lookback)
        new_a = [i for i, r in enumerate(assignments) if r[1] < now and i not in loaded_a]
        new_e = [i for i, r in enumerate(events) if r[1] < now and i not in loaded_e]
        late = {i for i in new_e if events[i][1] >= now - DAY and rng.random() < 0.05}
        insert(conn, "assignments", [assignments[i] for i in new_a])
        insert(conn, "events", [events[i] for i in new_e if i not in late] + held)
        held = [events[i] for i in late]
        loaded_a.update(new_a)
        loaded_e.update(i for i in new_e if i not in late)
        if day == 9:  # a late assignment row (inside the lookback) moves exposures earlier
            moved = [r for r in assignments if now - DAY + 2 * HOUR <= r[1] < now][:3]
            assert moved
            insert(conn, "assignments", [(r[0], r[1] - HOUR, r[2], r[3]) for r in moved])
        incremental, refresh = run_incremental(index, experiment, conn, DAY)
        full = run_experiment(index, experiment, conn)
        same(full.rows, incremental.rows)
        outcomes.append(refresh.rebuilt)
    assert outcomes[0] is not None and "no state table" in outcomes[0]
    assert outcomes[1:] == [None] * 5
