"""Engines for tests: load Arrow tables into a real SQL engine and run SQL text on it.

Each engine (``duckdb``, ``postgres``, ``spark``, ``snowflake`` via fakesnow, ``bigquery`` via
zetasql) follows :class:`harness.base.Engine`: ``load({"support.users": table, ...})`` then
``run(sql) -> list[tuple]``. ``tests/engines/conftest.py`` starts them once per session.
"""

from harness.base import Engine, EngineUnavailable, require_engines

__all__ = ["Engine", "EngineUnavailable", "require_engines"]
