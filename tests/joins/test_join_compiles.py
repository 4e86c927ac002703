"""Every join construct `check` accepts compiles for every backend (issue 11), as
`metricspec compile` runs it: metrics through joins (one and two qualifiers, short names,
derived aliases), a slowly changing dimension, an experiment segmented by joined and
derived dimensions and by dotted references, filtered through a join in its assignment and
metrics (a conversion's ends too, a regression covariate), monitors sliced by a joined
dimension (short and dotted) and the specs/ dimension layer."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from metricspec.backends import all_backends
from metricspec.pipeline import compile_all
from metricspec.workspace import Workspace

SPEC = """\
source events = table shop.events {
  entity event_id: integer primary, user_id: string
  time ts: timestamp
  dimension channel: string
  dimension user_tier = user_id.account_id.tier
  column amount: number
}
source users = table shop.users {
  entity user_id: string primary, account_id: string
  time signup_ts: timestamp
  dimension plan: string
  dimension tenure = case when signup_ts < '2026-01-01' then 'old' else 'new' end
}
source accounts = table shop.accounts { entity account_id: string primary; dimension tier: string }
source plans = table shop.plans {
  entity user_id: string primary
  validity valid_from .. valid_to
  dimension plan_then: string
}
source exposures = table shop.exposures {
  entity user_id: string
  time exposed_ts: timestamp
  dimension cohort = case when users.signup_ts >= '2026-10-01' then 'new' else 'returning' end
  dimension plan_at_exposure = plan_then
  column experiment_id: string, variant: string
}
metric revenue = sum(events.amount)
metric gold_revenue = sum(events.amount where user_id.account_id.tier = 'gold')
metric pro_share = count(events where plans.plan_then = 'pro') / count(events)
metric p90_enterprise = p90(events.amount where users.plan = 'enterprise' and tenure = 'new')
metric by_alias = count(events where user_tier = 'gold')
metric gold_to_pro = conversion(events where accounts.tier = 'gold'
  -> events where users.plan = 'pro', within 1 day, by user_id)
experiment nudge {
  unit user_id
  assignment exposures variant variant where experiment_id = 'nudge' and users.plan <> 'free'
  variants control 50% control, treatment 50%
  window 2026-11-01 .. 2026-11-08
  primary gold_revenue
  secondary revenue, p90_enterprise, gold_to_pro
  segments cohort, plan_at_exposure, plan, users.tenure, user_id.account_id.tier
  cuped 7 days
  covariates pre(gold_revenue)
}
monitor by_tier {
  metric pro_share
  every 1 hour
  baseline trailing 1 day
  alert when below baseline by 20%
  min_n 10
  dimensions tier
}
monitor by_plan { metric gold_revenue; every 1 day; alert when below 1; dimensions users.plan }
"""


@pytest.mark.parametrize("folder", ["inline", "specs"])
def test_every_join_construct_compiles_for_every_backend(tmp_path: Path, folder: str) -> None:
    if folder == "inline":
        (tmp_path / "model.mspec").write_text(SPEC)
        ws = Workspace.load(tmp_path)
    else:
        ws = Workspace.load(Path(__file__).resolve().parents[2] / "specs")
    assert ws.ok, ws.render()
    backends = list(all_backends().values())
    compiled, failed = compile_all(ws.index, backends, per_metric=True)
    assert not failed, "\n".join(str(f) for f in failed)
    joined = [c for c in compiled if "LEFT JOIN" in c.sql]
    assert joined, "no query joined a dimension table"
    for item in joined:  # each parses back in its own dialect
        sqlglot.parse_one(item.sql, read=item.backend.sqlglot_dialect)
