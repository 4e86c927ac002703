"""A dimension written with its own source's name (`events.channel`) is that source's
column: `check` accepts it, so the planner must too — a monitor sliced by it compiles to the
same SQL as one sliced by `channel`, and a query by it gives a `channel` column."""

from __future__ import annotations

from pathlib import Path

from metricspec.backends import get_backend
from metricspec.pipeline import compile_object
from metricspec.workspace import Workspace

SPEC = """\
source events = table a.events {
  entity user_id: string
  time ts: timestamp
  dimension channel: string
  column amount: number
}
metric revenue = sum(events.amount)
monitor m { metric revenue; every 1 day; alert when below 0.1; dimensions DIM }
"""


def _sql(tmp_path: Path, dimension: str) -> str:
    folder = tmp_path / dimension
    folder.mkdir()
    (folder / "s.mspec").write_text(SPEC.replace("DIM", dimension))
    ws = Workspace.load(folder)
    assert ws.ok, ws.render("text")
    return compile_object(ws.index, "m", get_backend("duckdb")).sql


def test_a_monitor_by_source_dot_dimension_is_the_same_query(tmp_path: Path) -> None:
    dotted, plain = _sql(tmp_path, "events.channel"), _sql(tmp_path, "channel")
    assert dotted.replace("events.channel", "channel") == plain
