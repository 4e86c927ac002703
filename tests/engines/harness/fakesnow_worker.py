"""Run Snowflake SQL on fakesnow for the test harness; speaks JSON lines on stdin/stdout.

Started by ``harness.fakesnow_engine`` with the Python of the fakesnow virtualenv (fakesnow
pins its own sqlglot and ``snowflake-connector-python<5``, which must not meet metricspec's).
It opens the *product* Snowflake connector (``metricspec.run.connections.connect``) inside
``fakesnow.patch()``, so the harness exercises the real driver code.

Protocol, one JSON object per line:
  -> {"op": "run", "sql": "..."}     <- {"ok": true, "columns": [...], "rows": [[...], ...]}
                                     <- {"ok": false, "error": "...", "url": "..."}
  -> {"op": "close"}                 <- {"ok": true}
The first line the worker writes is {"ok": true, "versions": {...}} once it is ready.
Values that JSON cannot carry are tagged: {"$datetime": iso}, {"$date": iso},
{"$decimal": "1.5"}, {"$float": "nan"}, {"$bytes": hex}, {"$repr": "..."}.

Usage: python fakesnow_worker.py REPO_ROOT
"""

from __future__ import annotations

import datetime as dt
import decimal
import importlib.metadata
import json
import math
import os
import sys
import types
import warnings
from typing import Any

URL = "snowflake://fakesnow:fakesnow@fakesnow/METRICSPEC/PUBLIC"


def encode(value: Any) -> Any:
    """Turn one result value into JSON, tagging types JSON lacks."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, bytes | bytearray):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return {"$repr": repr(value)}


def import_connector(repo_root: str) -> Any:
    """Import ``metricspec.run.connections`` without running the package ``__init__`` files.

    The fakesnow venv has none of metricspec's dependencies; the connector module and its
    Snowflake driver need only the standard library and ``snowflake.connector``.
    """
    for name, path in (("metricspec", ""), ("metricspec.run", "run")):
        package = types.ModuleType(name)
        package.__path__ = [os.path.join(repo_root, "metricspec", path)]
        sys.modules.setdefault(name, package)
    import metricspec.run.connections as connections

    return connections


def main() -> None:
    """Serve requests until stdin closes or a close request arrives."""
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # anything the libraries print goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    warnings.simplefilter("ignore")

    def reply(message: dict[str, Any]) -> None:
        protocol.write(json.dumps(message) + "\n")

    import fakesnow

    connections = import_connector(sys.argv[1])
    versions = {
        p: importlib.metadata.version(p)
        for p in ("fakesnow", "snowflake-connector-python", "duckdb", "sqlglot")
    }
    with fakesnow.patch(), connections.connect(URL) as conn:
        reply({"ok": True, "versions": versions})
        for line in sys.stdin:
            request = json.loads(line)
            if request.get("op") == "close":
                reply({"ok": True})
                break
            try:
                result = conn.execute(request["sql"])
            except connections.WarehouseError as exc:
                reply({"ok": False, "error": exc.message, "url": exc.url})
                continue
            except Exception as exc:  # a fakesnow bug must not kill the session
                reply({"ok": False, "error": f"{type(exc).__name__}: {exc}", "url": URL})
                continue
            rows = [[encode(v) for v in row] for row in result.rows]
            reply({"ok": True, "columns": list(result.columns), "rows": rows})


if __name__ == "__main__":
    main()
