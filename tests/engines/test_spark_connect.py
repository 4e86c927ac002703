"""The product Spark driver against a real Spark Connect server (``spark://host:port``).

Needs the Spark Connect client's extra packages (``pip install 'pyspark[connect]'``: grpcio-status,
googleapis-common-protos, zstandard); without them these tests are skipped.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.base import EngineUnavailable, start_or_skip
from harness.postgres_engine import free_port
from harness.spark_engine import java_available

from metricspec.run.connections import WarehouseError, connect

pytestmark = [pytest.mark.engines, pytest.mark.slow]
SERVER = Path(__file__).with_name("harness") / "spark_connect_server.py"
TOKEN = "connect-token-s3cret"
_CONNECT_MODULES = ("grpc", "grpc_status", "google.rpc", "zstandard", "pyspark")


class ConnectServer:
    """A Spark Connect server in a child process on 127.0.0.1 with a token."""

    def __init__(self) -> None:
        if not java_available():
            raise EngineUnavailable("Java is not installed (Spark needs Java 17 or later)")
        self.port = free_port()
        self.log = open(os.devnull, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-W", "ignore", str(SERVER), str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env={**os.environ, "SPARK_CONNECT_AUTHENTICATE_TOKEN": TOKEN},
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise EngineUnavailable("the Spark Connect server did not start within 180 s")

    def stop(self) -> None:
        """Close the server's stdin (it stops Spark and exits), then make sure it is gone."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


@pytest.fixture(scope="module")
def connect_server() -> Iterator[ConnectServer]:
    """A running Spark Connect server, or a skip when the client extras are missing."""
    missing = [m for m in _CONNECT_MODULES if not _importable(m)]
    if missing:
        pytest.skip(f"Spark Connect client needs {missing}: pip install 'pyspark[connect]'")
    server = start_or_skip(ConnectServer, "Spark Connect server")
    yield server
    server.stop()


# The client runs in its own process: pyspark allows one kind of session per process, and the
# suite's other Spark tests have already started a classic (local) one in this one.
CLIENT = """
import datetime as dt, sys
from metricspec.run.connections import WarehouseError, connect
url, token = sys.argv[1], sys.argv[2]
with connect(url) as conn:
    assert conn.dialect == "spark", conn.dialect
    rows = conn.execute(
        "SELECT 1 AS a, TIMESTAMP '2026-11-01 10:00:00' AS ts, current_timezone() AS tz").rows
    assert rows == [(1, dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC), "UTC")], rows
    try:
        conn.execute("SELEC 1")
    except WarehouseError as exc:
        assert "PARSE_SYNTAX_ERROR" in str(exc), exc
        assert token not in str(exc) and "token=***" in str(exc), exc
    else:
        raise AssertionError("no error for SELEC 1")
print("client ok")
"""


def test_connect_runs_sql_with_utc_instants_and_engine_errors(
    connect_server: ConnectServer,
) -> None:
    url = f"spark://localhost:{connect_server.port}?token={TOKEN}"
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", CLIENT, url, TOKEN],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "client ok" in done.stdout, (done.stdout + done.stderr)[-3000:]


def test_unreachable_connect_server_fails_fast() -> None:
    pytest.importorskip("grpc_status")
    started = time.monotonic()
    with pytest.raises(WarehouseError, match="could not start Spark") as caught:
        connect(f"spark://localhost:{free_port()}?token={TOKEN}")
    assert time.monotonic() - started < 60  # pyspark alone would retry for ten minutes
    assert caught.value.hint and "Spark Connect server" in caught.value.hint
    assert TOKEN not in str(caught.value)
