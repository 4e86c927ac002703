"""The entity graph and reference resolution (issue 11), on a small project.

messages -> users directly (user_id) and through conversations (conversation_id.user_id);
users -> accounts; tickets hold many rows per user.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from metricspec.entity_graph import EntityGraph, JoinPath, JoinProblem
from metricspec.workspace import Workspace

SPEC = """\
source messages = table s.messages {
  entity message_id: integer primary, user_id: string, conversation_id: string
  time ts: timestamp
  dimension role: string
}
source conversations = table s.conversations {
  entity conversation_id: string primary, user_id: string
  time started_ts: timestamp
  dimension channel: string
}
source users = table s.users {
  entity user_id: string primary, account_id: string
  time signup_ts: timestamp
  dimension plan: string
}
source accounts = table s.accounts {
  entity account_id: string primary
  dimension tier: string
  dimension big = case when tier in ('gold', 'platinum') then 'big' else 'small' end
}
source tickets = table s.tickets {
  entity ticket_id: integer primary, user_id: string
  time opened_ts: timestamp
  dimension severity: string
}
metric n = count(messages)
"""


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> EntityGraph:
    folder: Path = tmp_path_factory.mktemp("graph")
    (folder / "model.mspec").write_text(SPEC)
    ws = Workspace.load(folder)
    assert ws.ok, ws.render()
    return EntityGraph(ws.index.sources)


@pytest.mark.parametrize("reference,route", [
    ("user_id.plan", ("user_id",)),
    ("users.plan", ("user_id",)),  # named in full: the direct edge
    ("conversation_id.user_id.plan", ("conversation_id", "user_id")),
    ("conversations.users.plan", ("conversation_id", "user_id")),
    ("channel", ("conversation_id",)),
    ("conversations.channel", ("conversation_id",)),
    ("user_id.account_id.tier", ("user_id", "account_id")),
    ("user_id.account_id.big", ("user_id", "account_id")),
])
def test_a_reference_resolves_to_its_one_path(graph: EntityGraph, reference: str,
                                              route: tuple[str, ...]) -> None:
    found = graph.resolve("messages", reference)
    assert isinstance(found, JoinPath), found
    assert tuple(e.key for e in found.edges) == route


def test_own_columns_need_no_join(graph: EntityGraph) -> None:
    assert graph.resolve("messages", "role") is None
    assert graph.resolve("messages", "messages.role") is None
    assert graph.resolve("messages", "user_id") is None


@pytest.mark.parametrize("reference,code,words", [
    ("plan", "MS430", "`user_id.plan`"),
    ("plan", "MS430", "`conversation_id.user_id.plan`"),
    ("accounts.tier", "MS430", "`user_id.account_id.tier`"),
    ("tier", "MS430", "2 join paths"),
    ("tickets.severity", "MS431", "many-to-many"),
    ("users.colour", "MS206", "reachable dimensions"),
    ("accounts.plan", "MS206", "paths to `plan`"),
])
def test_problems_name_the_paths_and_the_way_out(graph: EntityGraph, reference: str,
                                                 code: str, words: str) -> None:
    found = graph.resolve("messages", reference)
    assert isinstance(found, JoinProblem)
    assert found.code == code
    assert words in found.message + (found.hint or "")


def test_one_to_many_from_the_one_side(graph: EntityGraph) -> None:
    found = graph.resolve("users", "tickets.severity")
    assert isinstance(found, JoinProblem) and "one-to-many" in found.message


def test_the_graph_as_data(graph: EntityGraph) -> None:
    data = graph.data()
    edges = {(e["from"], e["key"], e["to"]) for e in data["edges"]}  # type: ignore[index]
    assert edges == {("messages", "user_id", "users"),
                     ("messages", "conversation_id", "conversations"),
                     ("conversations", "user_id", "users"), ("users", "account_id", "accounts"),
                     ("tickets", "user_id", "users")}
    assert graph.cycles() == []


def test_a_densely_connected_project_is_checked_quickly(tmp_path: Path) -> None:
    """30 tables, each keyed by its own entity and holding every other key: paths and
    cycles are bounded, so `check` answers in seconds, not in 30^8 steps."""
    import time

    n = 30
    lines = []
    for i in range(n):
        keys = ", ".join(f"k{j}" for j in range(n) if j != i)
        lines.append(f"source t{i} = table s.t{i} {{ entity k{i} primary, {keys}; "
                     f"time ts; dimension d{i} }}")
    lines.append("metric m = count(t0 where d5 = 'x')")
    (tmp_path / "dense.mspec").write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    ws = Workspace.load(tmp_path)
    assert time.monotonic() - started < 20
    assert any(d.code == "MS305" for d in ws.errors)
