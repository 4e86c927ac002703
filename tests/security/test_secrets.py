"""Secrets never leak, and opening a warehouse never does more than it was asked to.

- A connection URL's password is redacted whole, whatever it holds (`@`, `:`, `/`, `%XX`):
  everything from the first `:` after the user name to the last `@`.
- Drivers read the password the same way (libpq alone would split at the first `@` and
  print the rest as a host name), and no error message or command output shows it.
- DuckDB never installs or loads an extension by itself, and a `duckdb:///path` that does
  not exist is an error naming the path for every command that reads a warehouse, instead
  of a new, empty database.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from pathlib import Path

import pytest
from security_support import Postgres, cli

from metricspec.run.connections import WarehouseError, connect, parse_url, redact_url

REPO = Path(__file__).resolve().parents[2]
SPECS = str(REPO / "specs")
PASSWORDS = ["s3cret", "p@ss", "p@ss@word", "a:b", "a:b@c:d", "pa/ss", "p%40ss", "100%",
             "x@y/z:w", "ünïcødé@", "sp ace", "@", "::", "@@@", "a@b%2Fc"]


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("template", [
    "postgresql://alice:{pw}@db.example:5432/app?sslmode=require",
    "postgres://alice:{pw}@db.example/app",
    "snowflake://alice:{pw}@acct/db/schema?warehouse=wh",
])
def test_the_whole_password_is_redacted(template: str, password: str) -> None:
    url = template.format(pw=password)
    assert redact_url(url) == template.format(pw="***")


@pytest.mark.parametrize(("url", "redacted"), [
    ("postgresql://ana:s3cret@db:5432/app", "postgresql://ana:***@db:5432/app"),
    ("postgresql://ana@db/app", "postgresql://ana@db/app"),
    ("postgresql://db.example:5432/app", "postgresql://db.example:5432/app"),
    ("spark://cluster:15002?token=abc&use_ssl=true", "spark://cluster:15002?token=***&use_ssl=true"),
    ("spark://cluster:15002?token=a@b", "spark://cluster:***@b"),  # too much, never too little
    ("duckdb:///data/a@b:c.duckdb", "duckdb:///data/a@b:c.duckdb"),
    ("postgresql://ana:pw@db/app?password=also&x=1", "postgresql://ana:***@db/app?password=***&x=1"),
])  # fmt: skip
def test_redaction_shapes(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


@pytest.mark.parametrize("password", [p for p in PASSWORDS if "/" not in p])
def test_drivers_read_the_password_as_redaction_hides_it(password: str) -> None:
    """The password is what lies before the host's `@` (as Python reads URLs), decoded; the
    URL handed to drivers carries it percent-encoded, so libpq reads the same."""
    from urllib.parse import unquote

    from psycopg.conninfo import conninfo_to_dict

    parsed = parse_url(f"postgresql://alice:{password}@db.example:5432/app")
    assert parsed.password == unquote(password)
    assert (parsed.host, parsed.port, parsed.path) == ("db.example", 5432, ("app",))
    libpq = conninfo_to_dict(parsed.raw)
    assert (libpq["password"], libpq["host"], libpq["user"]) == (
        unquote(password), "db.example", "alice")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("password", ["qx@zv@wq", "kq/zx", "jq@xz:wv"])
def test_connection_errors_never_show_the_password(password: str) -> None:
    url = f"postgresql://alice:{password}@127.0.0.1:{_closed_port()}/app?connect_timeout=3"
    with pytest.raises(WarehouseError) as caught:
        connect(url)
    text = str(caught.value)
    pieces = {password, *password.replace("@", " ").replace("/", " ").replace(":", " ").split()}
    assert not [p for p in pieces if len(p) > 1 and p in text], text


def test_cli_prints_the_redacted_url() -> None:
    url = f"postgresql://ana:p@ss@127.0.0.1:{_closed_port()}/app?connect_timeout=3"
    code, output = cli("query", "csat", "-s", SPECS, "-w", url)
    assert code == 3, output
    assert "postgresql://ana:***@127.0.0.1" in output
    assert "p@ss" not in output and "ss@" not in output


def test_postgres_login_with_at_sign_password(postgres: Postgres) -> None:
    """A raw `@` in a password works (libpq alone would send `p` to host `ss@127.0.0.1`),
    and a wrong one fails without showing either password."""
    with connect(postgres.url) as admin:
        admin.execute("DROP ROLE IF EXISTS alice")
        admin.execute("CREATE ROLE alice LOGIN PASSWORD 'p@ss:w/rd'")
    port = postgres.server.port
    with connect(f"postgresql://alice:p@ss:w%2Frd@127.0.0.1:{port}/postgres") as conn:
        assert conn.execute("SELECT current_user").rows == [("alice",)]
    with pytest.raises(WarehouseError, match="authentication failed") as caught:
        connect(f"postgresql://alice:wr@ng:pw@127.0.0.1:{port}/postgres")
    assert "wr@ng" not in str(caught.value) and "ng:pw" not in str(caught.value)


# ---------------------------------------------------------------- DuckDB


@pytest.mark.parametrize("command", [
    ("run", "summarizer_v2"), ("query", "csat"), ("monitor", "csat_drop"),
    ("plan", "summarizer_v2"),
])
def test_a_missing_database_is_an_error_naming_it(tmp_path: Path,
                                                  command: tuple[str, str]) -> None:
    missing = tmp_path / "typo.duckdb"
    option = "--warehouse" if command[0] == "plan" else "-w"
    code, output = cli(*command, "-s", SPECS, option, f"duckdb:///{missing}")
    assert code == 3, output
    assert "does not exist" in output and "typo.duckdb" in output
    assert not missing.exists()


def test_create_is_an_explicit_choice(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    with pytest.raises(WarehouseError, match="does not exist"):
        connect(f"duckdb:///{path}")
    with connect(f"duckdb:///{path}", create=True) as conn:
        conn.execute("CREATE TABLE t AS SELECT 1 AS x")
    with connect(f"duckdb:///{path}") as conn:
        assert conn.execute("SELECT x FROM t").rows == [(1,)]


def test_duckdb_extensions_are_not_installed_or_loaded(tmp_path: Path) -> None:
    extensions = tmp_path / "extensions"
    extensions.mkdir()
    with connect("duckdb:///:memory:") as conn:
        (settings,) = conn.execute(
            "SELECT current_setting('autoinstall_known_extensions'), "
            "current_setting('autoload_known_extensions')").rows
    assert settings == (False, False)
    lite = tmp_path / "warehouse.sqlite"
    with sqlite3.connect(lite) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    started = time.perf_counter()
    with pytest.raises(WarehouseError):
        connect(f"duckdb:///{lite}?extension_directory={extensions}")
    assert time.perf_counter() - started < 5
    assert list(extensions.rglob("*")) == []  # nothing downloaded


def test_a_fifo_is_not_a_database(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.duckdb"
    os.mkfifo(fifo)
    started = time.perf_counter()
    with pytest.raises(WarehouseError, match="not a regular file"):
        connect(f"duckdb:///{fifo}")
    assert time.perf_counter() - started < 2
