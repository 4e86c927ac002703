"""The demo warehouse's tables, as data: names, exact types, nullability and meaning.

This is a contract: the example specs, the tests and the benchmarks query these names. Every
categorical column's vocabulary is a tuple here; the generator stores categories as small
integer codes and the writer maps them back through these tuples.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA = "support"

PLANS = ("free", "pro", "enterprise")
REGIONS = ("na", "eu", "apac", "latam")
LOCALES = ("en-US", "de-DE", "fr-FR", "es-ES", "ja-JP")
CHANNELS = ("chat", "email", "voice")
PLATFORMS = ("web", "ios", "android")
ROLES = ("user", "assistant")
THUMBS = ("up", "down")
MODEL_VERSIONS = ("support-llm-2026.08", "support-llm-2026.11", "support-llm-2026.11.1")
"""The assistant's model: the September model, its November upgrade, and the faulty hotfix
that ran during the monitoring incident."""


@dataclass(frozen=True)
class Column:
    """One column: its name, DuckDB type, whether it may be NULL, and what it means."""

    name: str
    type: str
    doc: str
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    """One table of the ``support`` schema and the order its rows are written in."""

    name: str
    doc: str
    columns: tuple[Column, ...]
    order: str

    @property
    def qualified(self) -> str:
        """Return the schema-qualified name, e.g. ``support.users``."""
        return f"{SCHEMA}.{self.name}"


def _c(name: str, type_: str, doc: str, nullable: bool = False) -> Column:
    return Column(name, type_, doc, nullable)


USERS = Table(
    "users",
    "One row per user of the support assistant.",
    (
        _c("user_id", "VARCHAR", "User id: 'u' and a number from 1."),
        _c("signup_ts", "TIMESTAMP", "Signup time (UTC); may precede the data period."),
        _c("plan", "VARCHAR", "Subscription plan: free, pro, enterprise."),
        _c("region", "VARCHAR", "Home region: na, eu, apac, latam."),
        _c("locale", "VARCHAR", "Preferred locale: en-US, de-DE, fr-FR, es-ES, ja-JP."),
    ),
    "user_id",
)

ASSIGNMENTS = Table(
    "assignments",
    "One row per exposure event: the first at a user's first conversation in the experiment "
    "window, then one per later conversation (and occasional duplicate logs).",
    (
        _c("experiment_id", "VARCHAR", "Experiment name."),
        _c("user_id", "VARCHAR", "Randomisation unit."),
        _c("variant", "VARCHAR",
           "Arm: control or treatment (a deploy bug logs a few treatment_hotfix rows)."),
        _c("assigned_ts", "TIMESTAMP", "Exposure time (UTC): the start of a conversation."),
        _c("platform", "VARCHAR", "Client platform of the exposure: web, ios, android."),
    ),
    "chunk of users, then assigned_ts (as exposures are logged)",
)

CONVERSATIONS = Table(
    "conversations",
    "One row per support conversation with the assistant.",
    (
        _c("conversation_id", "VARCHAR", "Conversation id: 'c' and a number from 1."),
        _c("user_id", "VARCHAR", "The user who started it."),
        _c("started_ts", "TIMESTAMP", "Time of the first user message (UTC)."),
        _c("ended_ts", "TIMESTAMP", "Time of the last assistant message (UTC)."),
        _c("channel", "VARCHAR", "chat, email or voice."),
        _c("model_version", "VARCHAR", "Assistant model that served it."),
        _c("locale", "VARCHAR", "Conversation locale (the user's)."),
        _c("turns", "INTEGER", "Number of user/assistant exchanges."),
        _c("escalated", "BOOLEAN", "Handed over to a human agent."),
        _c("escalation_turn", "INTEGER", "Turn of the hand-over; NULL unless escalated.", True),
        _c("resolved", "BOOLEAN", "Resolved by the assistant (never when escalated)."),
    ),
    "chunk of users, then started_ts (as conversations are logged)",
)

MESSAGES = Table(
    "messages",
    "One row per message: in each turn a user message, then the assistant's answer.",
    (
        _c("message_id", "BIGINT", "Message id, dense from 1 in conversation and turn order."),
        _c("conversation_id", "VARCHAR", "Conversation."),
        _c("user_id", "VARCHAR", "The conversation's user."),
        _c("ts", "TIMESTAMP", "Time the message was sent (UTC)."),
        _c("turn", "INTEGER", "Turn number, from 1."),
        _c("role", "VARCHAR", "user or assistant."),
        _c("channel", "VARCHAR", "The conversation's channel."),
        _c("model_version", "VARCHAR", "The conversation's assistant model."),
        _c("latency_ms", "DOUBLE", "Time to answer; assistant only, NULL for user.", True),
        _c("prompt_tokens", "INTEGER", "Assistant: tokens sent to the model; user: typed tokens."),
        _c("completion_tokens", "INTEGER", "Tokens generated; 0 for user messages."),
        _c("prompt_cost_usd", "DOUBLE", "Cost of the prompt tokens; 0 for user messages."),
        _c("completion_cost_usd", "DOUBLE", "Cost of the completion; 0 for user messages."),
        _c("cost_usd", "DOUBLE", "prompt_cost_usd + completion_cost_usd."),
        _c("hallucinated", "BOOLEAN", "Answer judged hallucinated; NULL for user.", True),
        _c("is_retry", "BOOLEAN", "User re-asked the question; NULL for assistant.", True),
        _c("is_correction", "BOOLEAN", "User corrected the assistant; NULL for assistant.", True),
    ),
    "chunk of users, then ts (as messages are logged)",
)

FEEDBACK = Table(
    "feedback",
    "Post-conversation feedback on a minority of conversations (dense on 2026-11-16).",
    (
        _c("feedback_id", "BIGINT", "Feedback id, dense from 1."),
        _c("conversation_id", "VARCHAR", "Conversation rated."),
        _c("user_id", "VARCHAR", "The conversation's user."),
        _c("ts", "TIMESTAMP", "Time the feedback was given (UTC), after the conversation ended."),
        _c("channel", "VARCHAR", "The conversation's channel."),
        _c("thumbs", "VARCHAR", "up or down; NULL when not asked.", True),
        _c("csat_score", "INTEGER", "CSAT 1 (very unsatisfied) to 5; NULL when not asked.", True),
        _c("effort_score", "INTEGER", "Effort 1 (very easy) to 7; NULL when not asked.", True),
    ),
    "chunk of users, then ts (as feedback is logged)",
)

TABLES: tuple[Table, ...] = (USERS, ASSIGNMENTS, CONVERSATIONS, MESSAGES, FEEDBACK)


def create_table_sql(table: Table) -> str:
    """Return the ``CREATE OR REPLACE TABLE`` statement for ``table``.

    >>> print(create_table_sql(USERS).splitlines()[1])
      user_id VARCHAR NOT NULL,
    """
    cols = ",\n".join(
        f"  {c.name} {c.type}{'' if c.nullable else ' NOT NULL'}" for c in table.columns
    )
    return f"CREATE OR REPLACE TABLE {table.qualified} (\n{cols}\n)"


def comment_sql(table: Table) -> list[str]:
    """Return ``COMMENT ON`` statements documenting ``table`` and its columns in the warehouse."""

    def quote(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    statements = [f"COMMENT ON TABLE {table.qualified} IS {quote(table.doc)}"]
    statements += [
        f"COMMENT ON COLUMN {table.qualified}.{c.name} IS {quote(c.doc)}" for c in table.columns
    ]
    return statements
