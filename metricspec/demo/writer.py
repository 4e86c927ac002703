"""Write generated arrays into DuckDB.

The generator hands over plain numpy arrays (integer codes, ``datetime64[us]`` times, floats
and booleans). DuckDB scans a dict of numpy arrays without copying (no pandas or pyarrow
needed), and one ``INSERT ... SELECT`` per table and chunk turns numbers into the warehouse's
VARCHAR ids, codes into category names and placeholder values into NULLs, in parallel inside
DuckDB. Rows keep the order they are handed over in, so the same arrays give the same tables.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import numpy as np
import numpy.typing as npt

from metricspec.demo import schema
from metricspec.demo.experiments import EXPERIMENTS, UNKNOWN_VARIANT

Arrays = Mapping[str, npt.NDArray[np.generic]]


def _vocabulary(code: str, values: tuple[str, ...]) -> str:
    """Return SQL mapping a 0-based integer code column to its category name."""
    listed = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"([{listed}])[{code} + 1]"


def _id(prefix: str, number: str) -> str:
    # Unpadded: zero-padding costs DuckDB about as much again as the cast itself.
    return f"'{prefix}' || CAST({number} AS VARCHAR)"


USER_ID = _id("u", "user_no")
CONVERSATION_ID = _id("c", "conv_no")
CHANNEL = _vocabulary("channel", schema.CHANNELS)
MODEL_VERSION = _vocabulary("model", schema.MODEL_VERSIONS)

SELECTS: dict[str, tuple[str, ...]] = {
    "users": (
        USER_ID,
        "signup_ts",
        _vocabulary("plan", schema.PLANS),
        _vocabulary("region", schema.REGIONS),
        _vocabulary("locale", schema.LOCALES),
    ),
    "assignments": (
        _vocabulary("experiment", tuple(e.experiment_id for e in EXPERIMENTS)),
        USER_ID,
        _vocabulary("variant", ("control", "treatment", UNKNOWN_VARIANT)),
        "assigned_ts",
        _vocabulary("platform", schema.PLATFORMS),
    ),
    "conversations": (
        CONVERSATION_ID,
        USER_ID,
        "started_ts",
        "ended_ts",
        CHANNEL,
        MODEL_VERSION,
        _vocabulary("locale", schema.LOCALES),
        "turns",
        "escalated",
        "CASE WHEN escalated THEN escalation_turn END",
        "resolved",
    ),
    "messages": (
        "message_id",
        CONVERSATION_ID,
        USER_ID,
        "ts",
        "turn",
        _vocabulary("role", schema.ROLES),
        CHANNEL,
        MODEL_VERSION,
        "CASE WHEN role = 1 THEN latency_ms END",
        "prompt_tokens",
        "completion_tokens",
        "prompt_cost_usd",
        "completion_cost_usd",
        "prompt_cost_usd + completion_cost_usd",
        "CASE WHEN role = 1 THEN hallucinated END",
        "CASE WHEN role = 0 THEN is_retry END",
        "CASE WHEN role = 0 THEN is_correction END",
    ),
    "feedback": (
        "feedback_id",
        CONVERSATION_ID,
        USER_ID,
        "ts",
        CHANNEL,
        "CASE thumbs WHEN 1 THEN 'up' WHEN 2 THEN 'down' END",
        "NULLIF(csat_score, 0)",
        "NULLIF(effort_score, 0)",
    ),
}
"""Per table, the SQL expression filling each column in schema order."""


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Create schema ``support`` and (re)create its tables, empty."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema.SCHEMA}")
    for table in schema.TABLES:
        con.execute(schema.create_table_sql(table))
        for statement in schema.comment_sql(table):
            con.execute(statement)


def append(con: duckdb.DuckDBPyConnection, table: str, arrays: Arrays) -> None:
    """Append rows, given as equally long numpy arrays, to ``support.<table>``."""
    view = f"_metricspec_demo_{table}"
    columns = {name: np.ascontiguousarray(values) for name, values in arrays.items()}
    con.register(view, columns)
    try:
        select = ", ".join(SELECTS[table])
        con.execute(f"INSERT INTO {schema.SCHEMA}.{table} SELECT {select} FROM {view}")
    finally:
        con.unregister(view)
