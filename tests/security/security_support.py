"""Helpers of the security suite: PostgreSQL's statement log, canary tables, spec folders
and the command line, used the way a user uses them."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engines"))

from harness.postgres_engine import PostgresServer

from metricspec.cli import app
from metricspec.run.connections import connect

#: Canary tables and their row counts: an injected statement would drop or change one.
CANARIES = {"canary": 3, "t": 1, "users": 1}
_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[.\d]* \w+ \[\d+\] ", re.M)
_STATEMENT = re.compile(r"^(?:LOG|ERROR):  (?:statement|execute [^:]*): (.*)\Z", re.S)


@dataclass
class Postgres:
    """The session's server: a URL that logs every statement, and the log itself."""

    server: PostgresServer

    @property
    def url(self) -> str:
        return self.server.url + "?options=-c%20log_statement%3Dall"

    def mark(self) -> int:
        """The current end of the server log (statements after it are new)."""
        return self.server.log.stat().st_size if self.server.log.exists() else 0

    def statements_since(self, mark: int) -> list[str]:
        """Every statement the server was sent after `mark`, in order."""
        with self.server.log.open("rb") as log:
            log.seek(mark)
            text = log.read().decode("utf-8", "replace")
        entries = [e for e in _ENTRY.split(text) if e.strip()]
        found = []
        for entry in entries:
            match = _STATEMENT.match(entry.rstrip("\n"))
            if match:
                found.append(match.group(1))
        return found


# ---------------------------------------------------------------- canaries

CANARY_SQL = [
    "CREATE TABLE canary (x INTEGER)",
    "INSERT INTO canary VALUES (1), (2), (3)",
    "CREATE TABLE t (x INTEGER)",
    "INSERT INTO t VALUES (1)",
    "CREATE TABLE users (x INTEGER)",
    "INSERT INTO users VALUES (1)",
]


def canary_counts(run: Any) -> dict[str, int | None]:
    """Rows in each canary table (None if it is gone), through `run(sql) -> rows`."""
    counts: dict[str, int | None] = {}
    for name in CANARIES:
        try:
            counts[name] = run(f"SELECT COUNT(*) FROM {name}")[0][0]
        except Exception:  # the table is gone: the test fails on the count
            counts[name] = None
    return counts


def duckdb_canaries(path: Path) -> None:
    """Create the canary tables in a DuckDB file."""
    with duckdb.connect(str(path)) as con:
        for sql in CANARY_SQL:
            con.execute(sql)


def duckdb_counts(path: Path) -> dict[str, int | None]:
    with duckdb.connect(str(path), read_only=True) as con:
        return canary_counts(lambda sql: con.execute(sql).fetchall())


def postgres_counts(url: str) -> dict[str, int | None]:
    with connect(url) as conn:
        return canary_counts(lambda sql: conn.execute(sql).rows)


def postgres_reset(url: str, statements: list[str]) -> None:
    """Recreate schemas `public` (with the canaries) and drop `app`, then run `statements`."""
    with connect(url) as conn:
        for sql in ["DROP SCHEMA IF EXISTS app CASCADE", "DROP SCHEMA IF EXISTS public CASCADE",
                    "CREATE SCHEMA public",
                    *CANARY_SQL, *statements]:
            conn.execute(sql)


# ---------------------------------------------------------------- spec folders and the CLI


def write_specs(folder: Path, files: dict[str, str]) -> Path:
    """A spec folder holding `files` (name -> text)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def cli(*args: str) -> tuple[int, str]:
    """Run `metricspec ARGS` in-process; no traceback may reach the user."""
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


__all__: Sequence[str] = ["CANARIES", "Postgres", "canary_counts", "cli", "duckdb_canaries",
                          "duckdb_counts", "postgres_counts", "postgres_reset", "write_specs"]

