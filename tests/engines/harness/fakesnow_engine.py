"""Snowflake SQL on fakesnow (an emulator on DuckDB), in its own virtualenv.

fakesnow pins its own sqlglot and needs ``snowflake-connector-python<5``, so it cannot share
metricspec's environment. On first use the harness builds ``<repo>/.engines/fakesnow-venv``
(reused afterwards) and talks to ``fakesnow_worker.py`` running there over JSON lines.
Tables are loaded the Snowflake way: ``PUT`` a Parquet file to the table stage, then
``COPY INTO ... MATCH_BY_COLUMN_NAME``. fakesnow accepts some SQL that Snowflake rejects, so
it proves results, not validity.
"""

from __future__ import annotations

import datetime as dt
import decimal
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
import venv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from harness.base import (
    REPO_ROOT,
    Engine,
    EngineUnavailable,
    columns,
    scratch_dir,
    split_name,
    write_parquet,
)
from metricspec.run.connections import WarehouseError

#: What the fakesnow virtualenv gets; changing this rebuilds it.
REQUIREMENTS = ("fakesnow==0.12.1", "snowflake-connector-python>=3.10,<5", "pyarrow>=15")
VENV_DIR = REPO_ROOT / ".engines" / "fakesnow-venv"
WORKER = Path(__file__).with_name("fakesnow_worker.py")
#: Seconds to wait for one reply before declaring the worker hung.
REPLY_TIMEOUT = 600


def venv_python(venv_dir: Path = VENV_DIR) -> Path:
    """Return the fakesnow virtualenv's Python, building the venv first if needed.

    Raises:
        EngineUnavailable: If the venv cannot be created or the packages cannot be installed.
    """
    python = venv_dir / "bin" / "python"
    stamp = venv_dir / "requirements.txt"
    wanted = "\n".join(REQUIREMENTS) + "\n"
    venv_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(venv_dir.parent / "fakesnow-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs build it once
        if python.exists() and stamp.exists() and stamp.read_text() == wanted:
            return python
        shutil.rmtree(venv_dir, ignore_errors=True)
        try:
            venv.create(venv_dir, with_pip=True, clear=True)
        except Exception as exc:
            raise EngineUnavailable(f"cannot create {venv_dir}: {exc}") from exc
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        done = subprocess.run(
            [*pip, *REQUIREMENTS], capture_output=True, text=True, timeout=900, check=False
        )
        if done.returncode != 0:
            shutil.rmtree(venv_dir, ignore_errors=True)
            raise EngineUnavailable(f"pip install fakesnow failed:\n{done.stderr[-3000:]}")
        stamp.write_text(wanted)
    return python


def decode(value: Any) -> Any:
    """Undo the worker's tagging of values JSON cannot carry."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    ((tag, text),) = value.items()
    if tag == "$datetime":
        return dt.datetime.fromisoformat(text)
    if tag == "$date":
        return dt.date.fromisoformat(text)
    if tag == "$decimal":
        return decimal.Decimal(text)
    if tag == "$float":
        return float(text)
    if tag == "$bytes":
        return bytes.fromhex(text)
    return text


class FakesnowEngine(Engine):
    """Snowflake SQL through fakesnow, in a worker process."""

    name = "snowflake"

    def __init__(self) -> None:
        super().__init__()
        started = time.perf_counter()
        python = venv_python()
        self.scratch = scratch_dir("fakesnow")
        self.stderr = open(self.scratch / "worker.stderr", "w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(python), str(WORKER), str(REPO_ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            encoding="utf-8",
            env={**os.environ, "PYTHONPATH": ""},
        )
        hello = self._receive()
        if not hello.get("ok"):
            raise EngineUnavailable(f"fakesnow worker failed to start: {hello}")
        self.versions: dict[str, str] = hello["versions"]
        self.startup_seconds = time.perf_counter() - started

    def _receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], REPLY_TIMEOUT)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            self.stderr.seek(0)
            raise EngineUnavailable(f"fakesnow worker died or hung:\n{self.stderr.read()[-3000:]}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _run(self, sql: str) -> list[tuple[Any, ...]]:
        """Send ``sql`` to fakesnow and return its rows."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": "run", "sql": sql}) + "\n")
        self.process.stdin.flush()
        reply = self._receive()
        if not reply["ok"]:
            raise WarehouseError(reply["error"], url=reply.get("url"))
        return [tuple(decode(v) for v in row) for row in reply["rows"]]

    def _load(self, tables: Mapping[str, pa.Table]) -> None:
        """Create each table, ``PUT`` its Parquet file to the table stage, ``COPY INTO`` it."""
        for qualified, table in tables.items():
            schema, name = split_name(qualified)
            # Upper case: Snowflake folds unquoted names to upper case.
            ddl = ", ".join(f'"{c.upper()}" {t}' for c, t in columns(table, self.name))
            path = write_parquet(table, self.scratch, f"{qualified}-{time.monotonic_ns()}")
            target = f'"{schema.upper()}"."{name.upper()}"'
            stage = f"@{schema.upper()}.%{name.upper()}"
            self._run(f'CREATE SCHEMA IF NOT EXISTS "{schema.upper()}"')
            self._run(f"CREATE OR REPLACE TABLE {target} ({ddl})")
            self._run(f"PUT 'file://{path}' {stage} AUTO_COMPRESS=FALSE")
            self._run(
                f"COPY INTO {target} FROM {stage} FILE_FORMAT=(TYPE=PARQUET) "
                "MATCH_BY_COLUMN_NAME=CASE_INSENSITIVE PURGE=TRUE"
            )

    def close(self) -> None:
        """Ask the worker to stop, then make sure it has."""
        try:
            if self.process.poll() is None and self.process.stdin is not None:
                self.process.stdin.write(json.dumps({"op": "close"}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
        finally:
            self.stderr.close()
            shutil.rmtree(self.scratch, ignore_errors=True)
