"""Dotted references where a dimension is accepted (issue 11): experiments' `segments` and
monitors' `dimensions` in both front ends, with spans over the whole reference; the plan's
column for each segment, which segments are pre-exposure, and the columns the preflight
reads from each table."""

from __future__ import annotations

from pathlib import Path

from metricspec.plan.experiment import plan_experiment
from metricspec.plan.joins import segment_timing
from metricspec.workspace import Workspace

SOURCES = """\
source exposures = table shop.exposures {
  entity user_id: string
  time exposed_ts: timestamp
  dimension platform: string
  column experiment_id: string, variant: string
}
source events = table shop.events {
  entity user_id: string
  time ts: timestamp
  column amount: number
}
source users = table shop.users {
  entity user_id: string primary, account_id: string
  dimension plan: string
}
source accounts = table shop.accounts {
  entity account_id: string primary
  dimension tier: string
}
source plans = table shop.plans {
  entity user_id: string primary
  validity valid_from .. valid_to
  dimension plan_at: string
}
metric revenue = sum(events.amount)
"""
DSL = SOURCES + """\
experiment nudge {
  unit user_id
  assignment exposures variant variant where experiment_id = 'n' and accounts.tier <> 'x'
  variants control 50% control, treatment 50%
  window 2026-11-01 .. 2026-11-08
  primary revenue
  segments platform, users.plan, user_id.account_id.tier, plans.plan_at, exposures.platform
}
monitor by_tier {
  metric revenue
  every 1 day
  alert when below 1
  dimensions user_id.account_id.tier, users.plan
}
"""
YAML = """\
experiments:
  nudge:
    unit: user_id
    assignment: {source: exposures, variant: variant,
                 where: "experiment_id = 'n' and accounts.tier <> 'x'"}
    variants: {control: 50%, treatment: 50%}
    control: control
    window: 2026-11-01 .. 2026-11-08
    primary: revenue
    segments: [platform, users.plan, user_id.account_id.tier, plans.plan_at,
               exposures.platform]
monitors:
  by_tier:
    metric: revenue
    every: 1 day
    alert: below 1
    dimensions: [user_id.account_id.tier, users.plan]
"""
REFERENCES = ["platform", "users.plan", "user_id.account_id.tier", "plans.plan_at",
              "exposures.platform"]


def _load(tmp_path: Path, yaml: bool) -> Workspace:
    (tmp_path / "sources.mspec").write_text(SOURCES if yaml else DSL)
    if yaml:
        (tmp_path / "objects.yaml").write_text(YAML)
    ws = Workspace.load(tmp_path)
    assert ws.ok, ws.render()
    return ws


def test_segments_and_slices_are_dotted_references_in_both_front_ends(tmp_path: Path) -> None:
    (tmp_path / "dsl").mkdir()
    (tmp_path / "yaml").mkdir()
    dsl, yaml = _load(tmp_path / "dsl", False), _load(tmp_path / "yaml", True)
    for ws in (dsl, yaml):
        assert [s.name for s in ws.index.experiments["nudge"].segments] == REFERENCES
        assert [d.name for d in ws.index.monitors["by_tier"].dimensions] == [
            "user_id.account_id.tier", "users.plan"]
    # a span covers the whole reference, in the DSL and in YAML
    tier = dsl.index.experiments["nudge"].segments[2]
    assert (tier.span.line, tier.span.column, tier.span.end_column) == (32, 34, 57)
    tier = yaml.index.experiments["nudge"].segments[2]
    assert (tier.span.line, tier.span.column, tier.span.end_column) == (10, 38, 61)


def test_the_plan_reads_each_segment_from_its_table(tmp_path: Path) -> None:
    plan = plan_experiment(_load(tmp_path, False).index, "nudge")
    assert [plan.segment_column(s) for s in plan.segments] == [
        "platform", "users_plan", "user_id_account_id_tier", "plans_plan_at", "platform"]
    before, current = segment_timing(plan.assignment, plan.segment_joins, plan.segments)
    # the assignment's own columns and the slowly changing plan are as of the exposure; a
    # plain dimension table's value is today's, which the treatment may have changed
    assert before == ["platform", "plans.plan_at", "exposures.platform"]
    assert current == ["users.plan", "user_id.account_id.tier"]
    read = plan.columns_read()
    assert read["exposures"] == ("user_id", "variant", "platform", "experiment_id",
                                 "exposed_ts")
    assert set(read["users"]) == {"user_id", "plan", "account_id"}
    assert set(read["accounts"]) == {"account_id", "tier"}
    assert set(read["plans"]) == {"user_id", "valid_from", "valid_to", "plan_at"}
