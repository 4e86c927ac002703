"""PostgreSQL from the Debian binaries, started for the test session.

The server runs as the OS user ``postgres`` when the tests run as root (PostgreSQL refuses
root), listens on 127.0.0.1 at a free port, keeps its data in a temporary directory and
trusts the ``postgres`` role; other roles log in with a password, so authentication failures
can be tested. Tables are loaded with ``COPY ... FROM STDIN`` on a psycopg connection of
their own (the product connector checks every statement with sqlglot, which made loading
the 65,000 rows of the engine tests' warehouse take 10-70 s); queries run through the
product connector.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa

from harness.base import EngineUnavailable, columns, scratch_dir, split_name
from harness.duckdb_engine import ConnectorEngine
from metricspec.run.connections import connect

_HBA = """\
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_bindir() -> Path:
    """Find the newest PostgreSQL ``bin`` directory that has initdb and pg_ctl."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    candidates = [Path(p).parent for p in reversed(found)]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "pg_ctl").exists():
            return bindir
    raise EngineUnavailable(
        "PostgreSQL binaries not found (no /usr/lib/postgresql/*/bin/initdb); "
        "install them with: apt-get install postgresql"
    )


class PostgresServer:
    """A throw-away PostgreSQL cluster: ``start()``, use ``url``, ``stop()``."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.base = scratch_dir("postgres")
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = 0
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                message = "running as root but there is no 'postgres' OS user"
                raise EngineUnavailable(message) from None
            os.chown(self.base, user.pw_uid, user.pw_gid)
            runuser = shutil.which("runuser")
            self._as_user = [runuser, "-u", "postgres", "--"] if runuser else []
            if not runuser:
                raise EngineUnavailable("running as root and runuser(1) is missing")

    def _pg(self, *args: str, timeout: float = 120) -> None:
        command = [*self._as_user, *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise EngineUnavailable(
                f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.strip()}\n{log}"
            )

    @property
    def url(self) -> str:
        """The product connector URL of the superuser database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Create the cluster and start the server; retry once if the port was taken."""
        self._pg(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        # Root may write the postgres-owned file; rewriting it keeps its owner.
        (self.data / "pg_hba.conf").write_text(_HBA)
        for attempt in range(3):
            self.port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} "
                f"-c unix_socket_directories='{self.base}' -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c TimeZone=UTC"
            )
            try:
                self._pg(
                    str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                    "-o", options, "-w", "-t", "60", "start",
                )  # fmt: skip
                return
            except EngineUnavailable:
                if attempt == 2:
                    raise

    def stop(self) -> None:
        """Stop the server and delete its files."""
        if (self.data / "postmaster.pid").exists():
            self._pg(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


class PostgresEngine(ConnectorEngine):
    """PostgreSQL 15 (or whatever Debian ships) through ``postgresql://``."""

    name = "postgres"

    def __init__(self) -> None:
        started = time.perf_counter()
        self.server = PostgresServer()
        atexit.register(self.server.stop)  # also if the session ends without finalizers
        try:
            self.server.start()
            super().__init__(connect(self.server.url))
        except Exception:
            self.server.stop()
            raise
        self.startup_seconds = time.perf_counter() - started

    def _load(self, tables: Mapping[str, pa.Table]) -> None:
        """Create each table and copy its rows in with ``COPY ... FROM STDIN``."""
        import psycopg

        with psycopg.connect(self.server.url, autocommit=True) as pg:
            for qualified, table in tables.items():
                schema, name = split_name(qualified)
                cols = columns(table, self.name)
                pg.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                pg.execute(f'DROP TABLE IF EXISTS "{schema}"."{name}"')
                pg.execute(f'CREATE TABLE "{schema}"."{name}" ({_ddl(cols)})')
                names = ", ".join(f'"{c}"' for c, _ in cols)
                values = [table.column(c).to_pylist() for c, _ in cols]
                with pg.cursor().copy(f'COPY "{schema}"."{name}" ({names}) FROM STDIN') as copy:
                    for row in zip(*values, strict=True):
                        copy.write_row(row)

    def close(self) -> None:
        """Close the connection and stop the server."""
        try:
            super().close()
        finally:
            self.server.stop()


def _ddl(cols: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f'"{c}" {t}' for c, t in cols)
