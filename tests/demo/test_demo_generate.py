"""The generator's API: determinism, scaling, targets, progress and errors."""

from __future__ import annotations

import importlib
from pathlib import Path

import duckdb
import pytest
from demo_warehouse import Warehouse

from metricspec.demo import generate
from metricspec.demo.generate import ROW_GROUP_SIZE
from metricspec.run.cost import duckdb_profile

TABLES = ("users", "assignments", "conversations", "messages", "feedback")


def checksums(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Hash every table's rows, in stored order, as text."""
    return {
        table: con.execute(
            f"SELECT md5(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY rowid)) "
            f"FROM support.{table} AS t"
        ).fetchone()[0]  # type: ignore[index]
        for table in TABLES
    }


def test_same_seed_gives_identical_tables_and_another_seed_does_not() -> None:
    first, second, other = duckdb.connect(), duckdb.connect(), duckdb.connect()
    generate(first, scale=0.02, seed=7)
    generate(second, scale=0.02, seed=7)
    generate(other, scale=0.02, seed=8)
    reference = checksums(first)
    assert checksums(second) == reference
    differing = {t for t, h in checksums(other).items() if h != reference[t]}
    assert differing == set(TABLES)


def test_rows_grow_linearly_with_scale(warehouse: Warehouse) -> None:
    con = duckdb.connect()
    double = generate(con, scale=0.5)
    assert double.rows["users"] == 2 * warehouse.summary.rows["users"]
    ordinary = {
        "conversations": "SELECT count(*) FROM support.conversations WHERE ended_ts < '2026-11-15'",
        "messages": "SELECT count(*) FROM support.messages WHERE ts < '2026-11-15'",
        "feedback": "SELECT count(*) FROM support.feedback WHERE ts < '2026-11-15'",
        "assignments": "SELECT count(*) FROM support.assignments",
    }
    for table, sql in ordinary.items():
        ratio = con.execute(sql).fetchone()[0] / warehouse.value(sql)  # type: ignore[index]
        assert 1.8 < ratio < 2.2, table
    # The monitoring day is not scaled down: about the same dense feedback at 0.25 and 0.5.
    dense = "SELECT count(*) FROM support.feedback WHERE ts >= '2026-11-16' AND thumbs IS NOT NULL"
    ratio = con.execute(dense).fetchone()[0] / warehouse.value(dense)  # type: ignore[index]
    assert 0.95 < ratio < 1.1


def test_generates_into_a_file_and_replaces_only_its_own_tables(tmp_path: Path) -> None:
    path = tmp_path / "demo.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA support; CREATE TABLE support.keep AS SELECT 1 AS x")
        con.execute("CREATE TABLE support.users AS SELECT 'stale' AS junk")
    summary = generate(path, scale=0.02)
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT x FROM support.keep").fetchall() == [(1,)]
        assert con.execute("SELECT count(*) FROM support.users").fetchone() == (
            summary.rows["users"],
        )


def test_a_file_is_stored_in_small_row_groups_so_a_time_range_reads_only_its_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "it's here.duckdb"  # a quote in the path is data, not SQL
    generate(path, scale=0.1)
    with duckdb.connect(str(path)) as con:
        largest = con.execute(
            "SELECT max(count) FROM pragma_storage_info('support.messages')").fetchone()
        assert largest is not None and largest[0] <= ROW_GROUP_SIZE
        con.execute("PRAGMA enable_profiling = 'no_output'")
        total, day = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE ts >= TIMESTAMP '2026-10-14') FROM "
            "support.messages WHERE ts < TIMESTAMP '2026-10-15'").fetchone()  # type: ignore[misc]
        con.execute("SELECT count(*) FROM support.messages WHERE ts >= TIMESTAMP '2026-10-14' "
                    "AND ts < TIMESTAMP '2026-10-15'").fetchall()
        scanned = duckdb_profile(con.get_profiling_information(format="json")).rows
    # one day's rows and at most the two row groups that straddle its edges
    assert scanned is not None and day <= scanned <= day + 2 * ROW_GROUP_SIZE
    assert scanned < total / 4


def test_leaves_a_given_connection_open_and_reports_progress() -> None:
    con = duckdb.connect()
    seen: list[tuple[str, float]] = []
    summary = generate(con, scale=0.02, progress=lambda stage, done: seen.append((stage, done)))
    assert con.execute("SELECT count(*) FROM support.messages").fetchone() == (
        summary.rows["messages"],
    )
    fractions = [done for _, done in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len(seen) >= 4 and all(isinstance(stage, str) and stage for stage, _ in seen)
    assert summary.seconds > 0


@pytest.mark.parametrize("scale", [0, -1.0, float("nan")])
def test_rejects_a_scale_that_is_not_positive(scale: float) -> None:
    with pytest.raises(ValueError, match="scale"):
        generate(duckdb.connect(), scale=scale)


def test_many_chunks_number_rows_densely_and_stay_deterministic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Large scales are simulated in chunks of users written by a background thread; small
    # chunks exercise the same path quickly.
    module = importlib.import_module("metricspec.demo.generate")
    monkeypatch.setattr(module, "CHUNK_USERS", 150)
    first, second = duckdb.connect(), duckdb.connect()
    summary = generate(first, scale=0.05, seed=3)
    generate(second, scale=0.05, seed=3)
    assert summary.rows["users"] == 600
    assert checksums(first) == checksums(second)
    for table, key in [("messages", "message_id"), ("feedback", "feedback_id")]:
        lo, hi, n = first.execute(
            f"SELECT min({key}), max({key}), count(*) FROM support.{table}"
        ).fetchone()  # type: ignore[misc]
        assert (lo, hi) == (1, n)
    numbers = first.execute(
        "SELECT min(CAST(conversation_id[2:] AS BIGINT)), max(CAST(conversation_id[2:] AS BIGINT)),"
        " count(DISTINCT conversation_id) FROM support.conversations"
    ).fetchone()
    assert numbers == (1, summary.rows["conversations"], summary.rows["conversations"])
