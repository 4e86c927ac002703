"""Small seeded tables for engine tests: NULLs, booleans, timestamps, unicode strings.

``support.users`` (1,000), ``support.assignments`` (900 of them, two variants) and
``support.events`` (about 3,000; some assigned users have none, so LEFT JOINs matter).
"""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa

CHANNELS = ("chat", "e-mail", "téléphone", "电话", "WhatsApp 💬", None)
COUNTRIES = ("DE", "FR", "Côte d'Ivoire", "日本", "O'Hare", None)
START = dt.datetime(2026, 11, 1, 0, 0, 0)


def sample_tables(seed: int = 20261101, users: int = 1000) -> dict[str, pa.Table]:
    """Build the sample tables deterministically from ``seed``."""
    rng = random.Random(seed)
    user_rows = {
        "user_id": list(range(1, users + 1)),
        "country": [rng.choice(COUNTRIES) for _ in range(users)],
        "is_premium": [rng.choice((True, False, None)) for _ in range(users)],
        "signup_ts": [START - dt.timedelta(seconds=rng.randrange(7_776_000)) for _ in range(users)],
        "age": [rng.randrange(18, 80) if rng.random() > 0.1 else None for _ in range(users)],
    }
    assigned = sorted(rng.sample(range(1, users + 1), k=users * 9 // 10))
    assignment_rows = {
        "user_id": assigned,
        "variant": [rng.choice(("control", "treatment")) for _ in assigned],
        "assigned_ts": [START + dt.timedelta(seconds=rng.randrange(3600)) for _ in assigned],
    }
    names = ("event_id", "user_id", "event_ts", "channel", "latency_ms", "tokens", "escalated")
    events: dict[str, list[object]] = {name: [] for name in names}
    for user in range(1, users + 1):
        for _ in range(rng.choice((0, 1, 2, 3, 4, 5, 8))):
            events["event_id"].append(len(events["event_id"]) + 1)
            events["user_id"].append(user)
            offset = dt.timedelta(seconds=rng.randrange(259_200), microseconds=rng.randrange(10**6))
            events["event_ts"].append(START + offset)
            events["channel"].append(rng.choice(CHANNELS))
            events["latency_ms"].append(
                round(rng.lognormvariate(6.0, 0.7), 3) if rng.random() > 0.08 else None
            )
            events["tokens"].append(rng.randrange(10, 4000))
            events["escalated"].append(rng.choice((True, False, False, False, None)))
    return {
        "support.users": pa.table(
            user_rows,
            schema=pa.schema(
                [
                    ("user_id", pa.int64()),
                    ("country", pa.string()),
                    ("is_premium", pa.bool_()),
                    ("signup_ts", pa.timestamp("us")),
                    ("age", pa.int32()),
                ]
            ),
        ),
        "support.assignments": pa.table(
            assignment_rows,
            schema=pa.schema(
                [
                    ("user_id", pa.int64()),
                    ("variant", pa.string()),
                    ("assigned_ts", pa.timestamp("us")),
                ]
            ),
        ),
        "support.events": pa.table(
            events,
            schema=pa.schema(
                [
                    ("event_id", pa.int64()),
                    ("user_id", pa.int64()),
                    ("event_ts", pa.timestamp("us")),
                    ("channel", pa.string()),
                    ("latency_ms", pa.float64()),
                    ("tokens", pa.int32()),
                    ("escalated", pa.bool_()),
                ]
            ),
        ),
    }
