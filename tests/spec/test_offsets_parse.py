"""Offsets and growth in both front ends: the IR they build, every unit spelling, and the
lengths the DSL and YAML refuse (MS453) at the same place in the expression."""

from __future__ import annotations

from pathlib import Path

import pytest

from metricspec import ir
from metricspec.workspace import Workspace

SOURCE = "source events = table app.events { entity user_id; time ts; column amount: number }\n"


def _load(tmp_path: Path, name: str, text: str) -> Workspace:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return Workspace.load(tmp_path)


@pytest.mark.parametrize(("written", "amount", "unit"), [
    ("1 week", 1, "week"), ("2 weeks", 2, "week"), ("7 days", 7, "day"), ("1 d", 1, "day"),
    ("24 hours", 24, "hour"), ("1440 minutes", 1440, "minute"), ("1 month", 1, "month"),
    ("3 months", 3, "month"), ("1 quarter", 1, "quarter"), ("2 quarters", 2, "quarter"),
    ("1 year", 1, "year"), ("2 years", 2, "year")])
def test_dsl_offset_lengths(tmp_path: Path, written: str, amount: int, unit: str) -> None:
    ws = _load(tmp_path, "m.mspec", SOURCE + "metric revenue = sum(events.amount)\n"
               f"metric shifted = offset(revenue, {written})\n")
    node = ws.project.metrics[1].expr
    assert isinstance(node, ir.Offset)
    assert (node.mode, node.amount, node.unit) == ("offset", amount, unit)
    assert isinstance(node.expr, ir.MetricRef) and node.expr.name == "revenue"


def test_growth_and_difference_in_dsl_and_yaml_build_equal_ir(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    dsl = _load(tmp_path / "d", "m.mspec",
                SOURCE + "metric revenue = sum(events.amount)\n"
                "metric wow = revenue - offset(revenue, 1 week)\n"
                "metric yoy = growth(revenue, 1 year)\n")
    (tmp_path / "y").mkdir()
    yaml = _load(tmp_path / "y", "m.yaml", """\
sources:
  events:
    table: app.events
    entities: [user_id]
    time: ts
    columns: {amount: number}
metrics:
  revenue: {expr: sum(events.amount)}
  wow: {expr: 'revenue - offset(revenue, 1 week)'}
  yoy:
    expr: growth(revenue, 1 year)
""")
    assert dsl.ok, dsl.render("text")
    assert yaml.ok, yaml.render("text")
    for a, b in zip(dsl.project.metrics, yaml.project.metrics, strict=True):
        assert ir.strip_spans(a.expr) == ir.strip_spans(b.expr)
    wow, yoy = dsl.project.metrics[1].expr, dsl.project.metrics[2].expr
    assert isinstance(wow, ir.BinaryOp) and isinstance(wow.right, ir.Offset)
    assert wow.right.seconds == 7 * 86400 and wow.right.months is None
    assert isinstance(yoy, ir.Offset) and yoy.mode == "growth"
    assert yoy.months == 12 and yoy.seconds is None and yoy.length == "1 year"


@pytest.mark.parametrize(("written", "column"), [("2 fortnights", 42), ("0 days", 40),
                                                 ("1.5 weeks", 40)])
def test_invalid_lengths_are_ms453_in_both_front_ends(tmp_path: Path, written: str,
                                                       column: int) -> None:
    dsl = _load(tmp_path, "m.mspec", "source events = table app.events { time ts }\n"
                f"metric shifted = offset(count(events), {written})\n")
    found = [(d.code, d.span.line, d.span.column) for d in dsl.diagnostics]
    assert ("MS453", 2, column) in found, found
    yaml_dir = tmp_path / "y"
    yaml_dir.mkdir()
    yaml = _load(yaml_dir, "m.yaml", "sources:\n  events: {table: app.events, time: ts}\n"
                 f"metrics:\n  shifted: {{expr: 'offset(count(events), {written})'}}\n")
    codes = [d.code for d in yaml.diagnostics]
    assert "MS453" in codes, codes
