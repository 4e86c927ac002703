"""`metricspec diff --warehouse` on PostgreSQL: the numbers of both definitions of each
changed metric, in one statement per group of sources, equal each definition run alone
through the workspace API on the same server (the demo's feedback and messages tables)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest
from harness.postgres_engine import PostgresEngine

from metricspec.demo import generate
from metricspec.diff import compare
from metricspec.diff.numbers import warehouse_numbers
from metricspec.run.connections import connect
from metricspec.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
SINCE, UNTIL = dt.datetime(2026, 10, 1), dt.datetime(2026, 11, 1)
EDITS = [  # a ratio on feedback (integer counts: division must not truncate), an average
    ("quality.mspec", "count(feedback where thumbs = 'up')",
     "count(feedback where thumbs = 'up' and channel <> 'email')"),
    ("operations.yaml", "avg(messages.completion_tokens where role = 'assistant')",
     "avg(messages.completion_tokens where role = 'assistant' and turn > 1)"),
]


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory, postgres_engine: PostgresEngine
          ) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("numbers-pg")
    generate(root / "demo.duckdb", scale=0.1)
    with duckdb.connect(str(root / "demo.duckdb"), read_only=True) as con:
        postgres_engine.load({name: con.sql(f"SELECT * FROM {name}").to_arrow_table()
                              for name in ("support.feedback", "support.messages",
                                           "support.conversations")})
    base, head = root / "base", root / "head"
    shutil.copytree(REPO / "specs", base)
    shutil.copytree(REPO / "specs", head)
    for file, old, new in EDITS:
        text = (head / file).read_text(encoding="utf-8")
        assert old in text
        (head / file).write_text(text.replace(old, new), encoding="utf-8")
    return base, head, postgres_engine.server.url


def test_numbers_on_postgres_equal_each_definition_alone(sides: tuple[Path, Path, str]
                                                         ) -> None:
    base, head, url = sides
    before, after = Workspace.load(base), Workspace.load(head)
    diff = compare(before.index, after.index, dt.date(2026, 11, 20))
    with connect(url) as conn:
        numbers = warehouse_numbers(diff, before.index, after.index, conn, SINCE, UNTIL)
    computed = {m.name: m for m in numbers.metrics if not m.note}
    # csat changes trust_score too, which also reads conversations and messages: one group
    assert {"csat", "trust_score", "tokens_per_answer"} <= set(computed)
    assert len(numbers.statements) == 1
    assert numbers.statements[0].sources == ("conversations", "feedback", "messages")
    for name, item in computed.items():
        for folder, value in ((base, item.base), (head, item.head)):
            rows = Workspace.load(folder).query([name], url, grain="month", since=SINCE,
                                                until=UNTIL).to_pylist()
            assert len(rows) == 1
            assert value == pytest.approx(float(rows[0][name]), rel=1e-9), (name, folder)
        assert 0 < item.base < 1e6
    assert computed["csat"].base != pytest.approx(computed["csat"].head, rel=1e-6)
