"""A tiny warehouse with the demo's schema, built to hit the corners the demo data avoids.

The demo data is realistic, so it rarely produces ties, NULL dimensions or events exactly on
a boundary. This one is small, seeded and hostile:

* latencies from a handful of values, so percentile boundaries fall inside runs of ties
  shared by several units; rows are written in descending unit order, so an engine's
  natural order of ties is not the unit order;
* NULL channels, thumbs, scores and escalation turns; users without any event;
* exposures in undeclared variants, in two variants, before, at and after the window
  bounds, twice at the same instant on different platforms;
* events exactly at the first exposure, exactly at the window end, and in the CUPED
  pre-period.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from metricspec.demo.schema import TABLES

EXPERIMENT_WINDOWS = {
    "summarizer_v2": (dt.datetime(2026, 10, 1), dt.datetime(2026, 10, 15)),
    "greeting_aa": (dt.datetime(2026, 10, 1), dt.datetime(2026, 10, 15)),
    "prompt_template_v3": (dt.datetime(2026, 10, 15), dt.datetime(2026, 10, 29)),
    "tone_tuning": (dt.datetime(2026, 10, 15), dt.datetime(2026, 10, 29)),
}
FIRST_DAY, LAST_DAY = dt.datetime(2026, 9, 10), dt.datetime(2026, 11, 2)
USERS = [f"u{i:03d}" for i in range(48)]
LATENCIES = (100.0, 250.0, 250.0, 400.0, 400.0, 400.0, 900.0, 900.0, 2500.0)


def build(seed: int = 11) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding schema `support` filled with edge cases."""
    rng = np.random.default_rng(seed)
    con = duckdb.connect()
    con.execute("CREATE SCHEMA support")
    for table in TABLES:
        # no NOT NULL constraints: NULL dimensions are part of the point
        columns = ", ".join(f"{c.name} {c.type}" for c in table.columns)
        con.execute(f"CREATE TABLE {table.qualified} ({columns})")
    assignments = _assignments(rng)
    conversations, messages, feedback = _activity(rng)
    for name, frame in (("assignments", assignments), ("conversations", conversations),
                        ("messages", messages), ("feedback", feedback)):
        columns = [c.name for c in next(t for t in TABLES if t.name == name).columns]
        frame = frame[columns].sort_values("user_id", ascending=False, kind="stable")
        con.register("incoming", frame)
        con.execute(f"INSERT INTO support.{name} SELECT * FROM incoming")
        con.unregister("incoming")
    users = pd.DataFrame({"user_id": USERS, "signup_ts": FIRST_DAY, "plan": "free",
                          "region": "eu", "locale": "en-US"})
    con.register("incoming", users)
    con.execute("INSERT INTO support.users SELECT * FROM incoming")
    con.unregister("incoming")
    return con


def _at(start: dt.datetime, end: dt.datetime, rng: np.random.Generator) -> dt.datetime:
    seconds = int((end - start).total_seconds())
    return start + dt.timedelta(seconds=int(rng.integers(0, seconds)))


def _assignments(rng: np.random.Generator) -> pd.DataFrame:
    out: list[dict[str, object]] = []
    platforms = ("web", "ios", "android")
    for experiment, (start, end) in EXPERIMENT_WINDOWS.items():
        for i, user in enumerate(USERS):
            if i % 8 == 7:  # some users never take part
                continue
            variant = ("control", "treatment")[int(rng.integers(0, 2))]
            for _ in range(int(rng.integers(1, 4))):
                shown = variant
                draw = rng.random()
                if draw < 0.06:
                    shown = "treatment" if variant == "control" else "control"
                elif draw < 0.12:
                    shown = "holdout"
                when = _at(start - dt.timedelta(days=2), end + dt.timedelta(days=2), rng)
                out.append({"experiment_id": experiment, "user_id": user, "variant": shown,
                            "assigned_ts": when,
                            "platform": platforms[int(rng.integers(0, 3))]})
        # exactly on the bounds: in at the start, out at the end
        out.append({"experiment_id": experiment, "user_id": USERS[7], "variant": "control",
                    "assigned_ts": start, "platform": "web"})
        out.append({"experiment_id": experiment, "user_id": USERS[15], "variant": "treatment",
                    "assigned_ts": end, "platform": "web"})
        # the same instant twice on two platforms, and an undeclared arm alone
        twice = start + dt.timedelta(hours=5)
        for platform in ("ios", "android"):
            out.append({"experiment_id": experiment, "user_id": USERS[23],
                        "variant": "treatment", "assigned_ts": twice, "platform": platform})
        out.append({"experiment_id": experiment, "user_id": USERS[31], "variant": "holdout",
                    "assigned_ts": twice, "platform": "web"})
        # exposures of no unit at all
        for variant in ("control", "treatment"):
            out.append({"experiment_id": experiment, "user_id": None, "variant": variant,
                        "assigned_ts": twice, "platform": "web"})
    frame = pd.DataFrame(out)
    return frame


def _activity(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    conversations: list[dict[str, object]] = []
    messages: list[dict[str, object]] = []
    feedback: list[dict[str, object]] = []
    channels = ("chat", "email", None)
    models = ("m1", "m2")
    boundaries = [start for start, _ in EXPERIMENT_WINDOWS.values()] + [
        end for _, end in EXPERIMENT_WINDOWS.values()]
    for i, user in enumerate(USERS):
        if i % 12 == 5:  # exposed users without any activity
            continue
        count = int(rng.integers(2, 14))
        starts = [_at(FIRST_DAY, LAST_DAY, rng) for _ in range(count)]
        if i % 6 == 0:  # events exactly on window bounds
            starts.append(boundaries[i % len(boundaries)])
        for k, started in enumerate(starts):
            conversation = f"c{i:03d}{k:02d}"
            channel = channels[int(rng.integers(0, 3))]
            model = models[int(rng.integers(0, 2))]
            turns = int(rng.integers(1, 4))
            escalated = bool(rng.random() < 0.25)
            escalation_turn = int(rng.integers(1, turns + 2)) if escalated else None
            resolved = (not escalated) and bool(rng.random() < 0.7)
            ts = started
            for turn in range(1, turns + 1):
                asked = rng.random()
                messages.append({
                    "message_id": len(messages) + 1, "conversation_id": conversation,
                    "user_id": user, "ts": ts, "turn": turn, "role": "user",
                    "channel": channel, "model_version": model, "latency_ms": None,
                    "prompt_tokens": int(rng.integers(5, 50)), "completion_tokens": 0,
                    "prompt_cost_usd": 0.0, "completion_cost_usd": 0.0, "cost_usd": 0.0,
                    "hallucinated": None, "is_retry": bool(asked < 0.2),
                    "is_correction": None if asked > 0.9 else bool(asked < 0.1)})
                latency = LATENCIES[int(rng.integers(0, len(LATENCIES)))]
                ts = ts + dt.timedelta(milliseconds=latency)
                prompt, completion = rng.random() / 100, rng.random() / 50
                messages.append({
                    "message_id": len(messages) + 1, "conversation_id": conversation,
                    "user_id": user, "ts": ts, "turn": turn, "role": "assistant",
                    "channel": channel, "model_version": model,
                    "latency_ms": None if rng.random() < 0.05 else latency,
                    "prompt_tokens": int(rng.integers(100, 900)),
                    "completion_tokens": int(rng.integers(20, 300)),
                    "prompt_cost_usd": prompt, "completion_cost_usd": completion,
                    "cost_usd": prompt + completion * (30 if rng.random() < 0.03 else 1),
                    "hallucinated": None if rng.random() < 0.05 else bool(rng.random() < 0.1),
                    "is_retry": None, "is_correction": None})
                ts = ts + dt.timedelta(minutes=int(rng.integers(1, 30)))
            conversations.append({
                "conversation_id": conversation, "user_id": user, "started_ts": started,
                "ended_ts": ts, "channel": channel, "model_version": model,
                "locale": ("en-US", "de-DE")[i % 2], "turns": turns, "escalated": escalated,
                "escalation_turn": escalation_turn, "resolved": resolved})
            if rng.random() < 0.7:
                thumbs = ("up", "up", "down", None)[int(rng.integers(0, 4))]
                feedback.append({
                    "feedback_id": len(feedback) + 1, "conversation_id": conversation,
                    "user_id": user, "ts": ts + dt.timedelta(minutes=int(rng.integers(0, 2000))),
                    "channel": channel, "thumbs": thumbs,
                    "csat_score": None if thumbs is None else int(rng.integers(1, 6)),
                    "effort_score": None if rng.random() < 0.3 else int(rng.integers(1, 8))})
    return (pd.DataFrame(conversations), pd.DataFrame(messages), pd.DataFrame(feedback))
