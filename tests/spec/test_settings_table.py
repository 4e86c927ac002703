"""The DSL transformer's table of `key value;` settings (`parse.build_base.SETTINGS`): every
rule it names is a rule of the grammar, none is also a method (which would silently win or
lose), and each reads its value the way the spec language documents it."""

from __future__ import annotations

from metricspec.parse import parse_source
from metricspec.parse.build import Builder
from metricspec.parse.build_base import SETTINGS
from metricspec.parse.dsl import parser


def test_every_setting_is_a_grammar_rule_without_a_method() -> None:
    rules = {str(rule.origin.name) for rule in parser().rules} | {
        str(rule.alias) for rule in parser().rules if rule.alias}
    assert set(SETTINGS) <= rules, sorted(set(SETTINGS) - rules)
    assert not [name for name in SETTINGS if hasattr(Builder, name)]


def test_settings_are_read_into_the_ir() -> None:
    text = """
source events "Events" = table app.events {
  description "All of them"
  owner "team"
  entity user_id
  time ts
  dimension country
  column amount: number
}
metric revenue = sum(events.amount) {
  format currency; direction up; unit USD
}
monitor watch {
  metric revenue
  every 1 hour
  baseline trailing 1 day
  alert when below baseline by 20%
  min_n 50
  dimensions country
}
"""
    result = parse_source(text, "t.mspec")
    assert not result.diagnostics, result.diagnostics
    source, metric, monitor = result.objects
    assert (source.label, source.description, source.owner) == ("Events", "All of them", "team")
    assert source.time is not None and source.time.name == "ts"
    assert [c.name for c in source.dimensions] == ["country"]
    assert (metric.format, metric.direction, metric.unit) == ("currency", "up", "USD")
    assert metric.setting_span("format").column > metric.span.column
    assert monitor.metric.name == "revenue" and monitor.min_n == 50
    assert [d.name for d in monitor.dimensions] == ["country"]
    assert monitor.every is not None and monitor.every.seconds == 3600


def test_experiment_settings_are_read_into_the_ir() -> None:
    text = """experiment e {
  unit user_id
  assignment assignments variant variant
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary csat
  secondary a, b
  segments platform
  alpha 0.05; power 80%; srm_alpha 0.001; correction HOLM
  cuped 14 days
}
"""
    result = parse_source(text, "e.mspec")
    assert not result.diagnostics, result.diagnostics
    [exp] = result.objects
    assert exp.unit is not None and exp.unit.name == "user_id"
    assert [v.name for v in exp.variants] == ["control", "treatment"]
    assert [r.name for r in exp.primary] == ["csat"]
    assert [r.name for r in exp.secondary] == ["a", "b"]
    assert [r.name for r in exp.segments] == ["platform"]
    assert (exp.alpha, exp.power, exp.srm_alpha, exp.correction) == (0.05, 0.8, 0.001, "holm")
    assert exp.cuped is not None and exp.cuped.seconds == 14 * 86400
    alpha = exp.setting_span("alpha")
    assert alpha is not None and (alpha.line, alpha.column) == (9, 9)
