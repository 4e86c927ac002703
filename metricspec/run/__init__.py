"""Run compiled SQL on a warehouse: connections and execution.

Owns: opening connections from URLs (:mod:`metricspec.run.connections`, one module per driver
under :mod:`metricspec.run.drivers`) and turning query output into plain Python rows.
May import: ``metricspec.emit``, ``metricspec.backends``; nothing imports the CLI.
Importing this package loads only the standard library; drivers load when a URL needs them.
"""

from metricspec.run.connections import Connection, QueryResult, WarehouseError, connect

__all__ = ["Connection", "QueryResult", "WarehouseError", "connect"]
