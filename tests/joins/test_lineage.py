"""Lineage on the docs site (issue 11): per metric, the tables and joins it reads; the
entity graph as a table on the sources page."""

from __future__ import annotations

import re
from pathlib import Path

from metricspec.document.docs import build_site
from metricspec.plan.joins import lineage
from metricspec.workspace import Workspace

SPEC = """\
source events = table shop.events {
  entity event_id: integer primary, user_id: string
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
metric gold_revenue = sum(events.amount where user_id.account_id.tier = 'gold')
metric pro_revenue = sum(events.amount where plan_at = 'pro')
metric share = gold_revenue / pro_revenue
metric revenue = sum(events.amount)
metric gold_repeat = conversion(events where accounts.tier = 'gold' -> events, within 1 day,
  by user_id)
"""


def _workspace(tmp_path: Path) -> Workspace:
    (tmp_path / "model.mspec").write_text(SPEC)
    ws = Workspace.load(tmp_path)
    assert ws.ok, ws.render()
    return ws


def test_a_metric_lists_its_tables_and_the_joins_followed(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    rows = lineage(ws.index.sources, [("events", "user_id.account_id.tier = 'gold'"),
                                      ("events", "plan_at = 'pro'")])
    assert [(r.source, r.table, r.via, r.keys) for r in rows] == [
        ("events", "shop.events", "", ""),
        ("users", "shop.users", "events -user_id-> users", "events.user_id = users.user_id"),
        ("accounts", "shop.accounts", "events -user_id-> users -account_id-> accounts",
         "users.account_id = accounts.account_id"),
        ("plans", "shop.plans", "events -user_id-> plans",
         "events.user_id = plans.user_id, as of ts"),
    ]
    assert [r.source for r in lineage(ws.index.sources, [("events", None)])] == ["events"]


def test_the_docs_site_shows_lineage_and_the_entity_graph(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    site = build_site(ws.index, {}, ())
    share = re.sub(r"\s+", " ", site.pages["metrics/share.html"])
    assert "Tables and joins read" in share
    # a metric built on metrics reads what they read
    assert "events -user_id-&gt; users -account_id-&gt; accounts" in share
    assert "events.user_id = plans.user_id, as of ts" in share
    revenue = re.sub(r"\s+", " ", site.pages["metrics/revenue.html"])
    assert "shop.users" not in revenue and "shop.events" in revenue
    sources = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", site.pages["sources.html"]))
    graph = sources[sources.index("Entity graph"):]
    for edge in ("events user_id users", "events user_id plans", "users account_id accounts"):
        assert edge in graph
    assert sources.count("primary key") == 4


def test_a_conversion_lists_the_joins_its_filters_follow(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    page = re.sub(r"\s+", " ", build_site(ws.index, {}, ()).pages["metrics/gold_repeat.html"])
    assert "events -user_id-&gt; users -account_id-&gt; accounts" in page
    assert "shop.plans" not in page
