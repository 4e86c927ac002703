"""`mtd(m)`, `qtd(m)`, `ytd(m)`, `fqtd(m)`, `fytd(m)` are `to_date(m, month)` and so on, in
both front ends; the short names stay free for metrics (`metric mtd = …`)."""

from __future__ import annotations

import pytest

from metricspec import ir
from metricspec.parse import parse_source

SOURCE = """\
source e = table a.e { entity u: string; time ts: timestamp; column x: number }
metric rev = sum(e.x)
"""


@pytest.mark.parametrize(("short", "period"), [
    ("mtd", "month"), ("qtd", "quarter"), ("ytd", "year"), ("fqtd", "fiscal_quarter"),
    ("fytd", "fiscal_year")])
def test_a_short_form_is_its_to_date(short: str, period: str) -> None:
    dsl = parse_source(SOURCE + f"metric a = {short}(rev)\nmetric b = to_date(rev, {period})\n",
                       "t.mspec")
    yaml = parse_source(f"metrics:\n  a: {{expr: '{short} (rev)'}}\n", "t.yaml")
    assert not dsl.diagnostics and not yaml.diagnostics
    a, b = (o.expr for o in dsl.objects if isinstance(o, ir.Metric) and o.name in "ab")
    assert ir.strip_spans(a) == ir.strip_spans(b) == ir.strip_spans(yaml.objects[0].expr)
    assert isinstance(a, ir.Window) and a.mode == "cumulative" and a.length is not None
    assert a.length.unit == period


def test_the_short_names_remain_metric_names() -> None:
    parsed = parse_source(SOURCE + "metric mtd = rev * 2\nmetric d = mtd + ytd(mtd)\n",
                          "t.mspec")
    assert not parsed.diagnostics
    d = next(o for o in parsed.objects if isinstance(o, ir.Metric) and o.name == "d")
    assert isinstance(d.expr, ir.BinaryOp) and isinstance(d.expr.left, ir.MetricRef)
    assert isinstance(d.expr.right, ir.Window) and d.expr.right.length is not None
    assert d.expr.right.length.unit == "year"
