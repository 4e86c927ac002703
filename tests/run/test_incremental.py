"""`run --incremental` gives the full run's sufficient statistics after every refresh, with
late events, late assignments that move exposures, and definition changes; on DuckDB."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from metricspec.plan.experiment import plan_experiment
from metricspec.plan.incremental import incremental_problems
from metricspec.run.connections import Connection, connect
from metricspec.run.execute import run_experiment
from metricspec.run.incremental import run_incremental
from tests.run.incremental_case import (
    DAY,
    create_tables,
    insert,
    refreshes,
    rows,
    same,
    workspace,
)


@pytest.fixture()
def conn(tmp_path: Path) -> Iterator[Connection]:
    with connect(f"duckdb:///{tmp_path / 'w.duckdb'}", create=True) as connection:
        create_tables(connection)
        yield connection


@pytest.mark.parametrize("experiment", ["checkout", "checkout_w", "checkout_j", "checkout_m"])
def test_refreshes_equal_full_runs(conn: Connection, tmp_path: Path, experiment: str) -> None:
    refreshes(conn, tmp_path, experiment)


def test_interrupted_refresh_and_longer_lookback_rebuild(conn: Connection,
                                                         tmp_path: Path) -> None:
    """A refresh that died half-way (its mark not written) and a lookback reaching before
    the hours already folded into per-unit totals both rebuild, and the numbers stay the full
    run's; a refresh in between folds and stays equal too."""
    index = workspace(tmp_path).index
    assignments, events = rows(users=80)
    insert(conn, "assignments", assignments)
    insert(conn, "events", events)
    run_incremental(index, "checkout", conn, DAY)
    run, refresh = run_incremental(index, "checkout", conn, DAY)  # folds hours into `units`
    assert refresh.rebuilt is None
    same(run_experiment(index, "checkout", conn).rows, run.rows)
    run, refresh = run_incremental(index, "checkout", conn, 5 * DAY)
    assert refresh.rebuilt is not None and "already folded" in refresh.rebuilt
    same(run_experiment(index, "checkout", conn).rows, run.rows)
    run_incremental(index, "checkout", conn, DAY)
    [(table,)] = conn.execute("SELECT table_name FROM information_schema.tables WHERE "
                              "table_name LIKE '%\\_\\_mark' ESCAPE '\\'").rows
    conn.execute(f'DROP TABLE metricspec_state."{table}"')
    run, refresh = run_incremental(index, "checkout", conn, DAY)
    assert refresh.rebuilt is not None and "no state table" in refresh.rebuilt
    same(run_experiment(index, "checkout", conn).rows, run.rows)


def test_definition_change_rebuilds(conn: Connection, tmp_path: Path) -> None:
    assignments, events = rows(users=50)
    insert(conn, "assignments", assignments)
    insert(conn, "events", events)
    index = workspace(tmp_path).index
    _, first = run_incremental(index, "checkout", conn, DAY)
    _, second = run_incremental(index, "checkout", conn, DAY)
    assert first.rebuilt is not None and second.rebuilt is None
    changed = tmp_path / "changed"
    changed.mkdir()
    ws = workspace(changed)
    (changed / "spec.mspec").write_text((changed / "spec.mspec").read_text().replace(
        "count(events where kind = 'buy') { direction up }",
        "count(events where kind = 'buy' and amount > 5) { direction up }"))
    from metricspec.workspace import Workspace
    ws = Workspace.load(changed)
    assert ws.ok
    run, third = run_incremental(ws.index, "checkout", conn, DAY)
    assert third.rebuilt is not None and "no state table" in third.rebuilt
    same(run_experiment(ws.index, "checkout", conn).rows, run.rows)


def test_writes_only_in_the_scratch_schema(conn: Connection, tmp_path: Path) -> None:
    assignments, events = rows(users=30)
    insert(conn, "assignments", assignments)
    insert(conn, "events", events)
    before = conn.execute("SELECT table_schema, table_name FROM information_schema.tables "
                          "WHERE table_schema <> 'metricspec_state' ORDER BY 1, 2").rows
    run_incremental(workspace(tmp_path).index, "checkout", conn, DAY)
    after = conn.execute("SELECT table_schema, table_name FROM information_schema.tables "
                         "WHERE table_schema <> 'metricspec_state' ORDER BY 1, 2").rows
    assert before == after
    state = conn.execute("SELECT table_name FROM information_schema.tables "
                         "WHERE table_schema = 'metricspec_state' ORDER BY 1").rows
    assert [r[0].split("__", 2)[-1] for r in state] == ["mark", "recent", "units"]


def test_non_additive_metrics_are_refused(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    (tmp_path / "more.mspec").write_text(
        "metric buyers = count_distinct(events.user_id) { direction up }\n"
        "experiment distinct_buyers \"Buyers\" {\n  unit user_id\n"
        "  assignment assignments variant variant\n"
        "  variants control 50% control, treatment 50%\n  window 2026-03-01 .. 2026-03-14\n"
        "  primary buyers\n}\n")
    from metricspec.workspace import Workspace
    ws = Workspace.load(tmp_path)
    assert ws.ok, ws.render()
    assert incremental_problems(plan_experiment(ws.index, "checkout")) == []
    problems = incremental_problems(plan_experiment(ws.index, "distinct_buyers"))
    assert problems and "`buyers`" in problems[0] and "count_distinct" in problems[0]


def test_command_line(conn: Connection, tmp_path: Path) -> None:
    """`run --incremental` twice prints the same statistics as `run`; a non-additive
    experiment and a bad lookback are usage errors (exit 2) before any connection."""
    import json

    from typer.testing import CliRunner

    from metricspec.cli import app

    assignments, events = rows(users=60)
    insert(conn, "assignments", assignments)
    insert(conn, "events", events)
    workspace(tmp_path)
    url = conn.url.raw
    conn.close()
    runner = CliRunner()

    def run(*extra: str) -> dict:
        result = runner.invoke(app, ["run", "checkout", "--spec-dir", str(tmp_path), "-w", url,
                                     "-f", "json", *extra])
        assert result.exit_code in (0, 1), result.output
        return dict(json.loads(result.stdout)["analysis"])

    full = run()
    first = run("--incremental", "--lookback", "2d")
    second = run("--incremental", "--lookback", "2d")
    close(full, first)
    close(full, second)
    bad = runner.invoke(app, ["run", "checkout", "--spec-dir", str(tmp_path), "-w", url,
                              "--incremental", "--lookback", "soon"])
    assert bad.exit_code == 2 and "--lookback" in bad.output


def close(a: object, b: object) -> None:
    """Equal, floats to 1e-9 relative (sums of floats in another order)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys()
        for k in a:
            close(a[k], b[k])
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            close(x, y)
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (a != a and b != b), (a, b)
    else:
        assert a == b


def test_command_line_refuses_a_percentile_experiment(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from metricspec.cli import app

    specs = Path(__file__).resolve().parents[2] / "specs"
    result = CliRunner().invoke(app, ["run", "greeting_aa", "--spec-dir", str(specs), "-w",
                                      f"duckdb:///{tmp_path / 'none.duckdb'}", "--incremental"])
    assert result.exit_code == 2, result.output
    assert "latency_p95" in result.output and "percentile" in result.output
    assert not (tmp_path / "none.duckdb").exists()


def test_every_write_targets_the_scratch_schema(conn: Connection, tmp_path: Path) -> None:
    """Parsed back, each statement a refresh or rebuild sends is one SELECT, or one
    CREATE / DROP / ALTER ... RENAME whose target is a table (or the schema) of
    `metricspec_state` (renamed within it); the source tables are only read."""
    import sqlglot
    from sqlglot import exp

    assignments, events = rows(users=40)
    insert(conn, "assignments", assignments)
    insert(conn, "events", events)
    sent: list[str] = []
    original = conn.execute

    def recording(sql: str):  # type: ignore[no-untyped-def]
        sent.append(sql)
        return original(sql)

    conn.execute = recording  # type: ignore[method-assign]
    index = workspace(tmp_path).index
    run_incremental(index, "checkout", conn, DAY)  # rebuild
    run_incremental(index, "checkout", conn, DAY)  # refresh
    kinds = set()
    for text in sent:
        [tree] = sqlglot.parse(text, read="duckdb")
        assert tree is not None
        kinds.add(type(tree).__name__)
        if isinstance(tree, exp.Select | exp.Union):
            continue
        if isinstance(tree, exp.Create) and tree.args.get("kind") == "SCHEMA":
            assert tree.this.db == "metricspec_state"
            continue
        target = tree.this if not isinstance(tree, exp.Drop) else tree.args["tables"][0]
        assert isinstance(tree, exp.Create | exp.Drop | exp.Alter), text
        assert isinstance(target, exp.Table) and target.db == "metricspec_state", text
        assert target.name.startswith("checkout__"), text
        if isinstance(tree, exp.Alter):  # a rename within the schema, nothing else
            [action] = tree.args["actions"]
            assert isinstance(action, exp.AlterRename), text
            assert not action.this.db and action.this.name.startswith("checkout__"), text
    assert kinds == {"Select", "Create", "Drop", "Alter"}


def test_cutoff_counts_the_lookback_from_the_end_of_the_latest_hour(tmp_path: Path) -> None:
    """A day-14 refresh after the day-13 one (latest hour 23:00) reads from 23:00 with a
    1-hour lookback, from 00:00 on day 13 with a day's; the latest hour is always read again
    (it may have been incomplete), and nothing before the window's start."""
    import datetime as dt

    from metricspec.run.incremental import cutoff_for

    plan = plan_experiment(workspace(tmp_path).index, "checkout")
    latest = dt.datetime(2026, 3, 13, 23, 0)
    hour = dt.timedelta(hours=1)
    assert cutoff_for(plan, latest, hour) == latest
    assert cutoff_for(plan, latest + dt.timedelta(minutes=40), hour) == latest
    assert cutoff_for(plan, latest, dt.timedelta(0)) == latest
    assert cutoff_for(plan, latest, DAY) == dt.datetime(2026, 3, 13, 0, 0)
    assert cutoff_for(plan, latest, 30 * DAY) == dt.datetime(2026, 3, 1)
    assert cutoff_for(plan, None, hour) == dt.datetime(2026, 3, 1)
