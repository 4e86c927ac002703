"""`query --compare`: two periods by a joined dimension, with the mix shift that makes the
overall change contradict every segment's (issue 11). pandas gives the expected numbers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from metricspec.cli import app

SPEC = """\
source users = table shop.users {
  entity user_id: string primary
  dimension plan: string
}
source orders = table shop.orders {
  entity user_id: string, order_id: integer primary
  time ts: timestamp
  column amount: number
}
metric order_value = avg(orders.amount)
metric order_count = count(orders)
"""


def _orders(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    # week 1: mostly pro orders (high value); week 2: mostly free orders (low value);
    # within each plan the order value rises by 1 from week 1 to week 2
    for week, (free, pro) in enumerate(((100, 300), (300, 100))):
        for plan, n, base in (("free", free, 10.0), ("pro", pro, 50.0)):
            for _ in range(n):
                rows.append((f"{plan}{rng.integers(20)}",
                             dt.datetime(2026, 11, 2) + dt.timedelta(days=7 * week + 1),
                             round(base + week + rng.normal(0, 1), 3)))
    frame = pd.DataFrame(rows, columns=["user_id", "ts", "amount"])
    frame.insert(0, "order_id", range(len(frame)))
    return frame


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder: Path = tmp_path_factory.mktemp("compare")
    (folder / "model.mspec").write_text(SPEC)
    users = pd.DataFrame({"user_id": [f"{p}{i}" for p in ("free", "pro") for i in range(20)],
                          "plan": ["free"] * 20 + ["pro"] * 20})
    orders = _orders(np.random.default_rng(3))
    with duckdb.connect(str(folder / "w.duckdb")) as con:
        con.execute("CREATE SCHEMA shop")
        for name, frame in (("users", users), ("orders", orders)):
            con.register("frame", frame)
            con.execute(f"CREATE TABLE shop.{name} AS SELECT * FROM frame")
            con.unregister("frame")
    orders.to_pickle(folder / "orders.pkl")
    return folder


def test_compare_names_the_reversal_and_the_mix_shift(folder: Path) -> None:
    args = ["query", "order_value", "-s", str(folder / "model.mspec"), "-w",
            f"duckdb:///{folder / 'w.duckdb'}", "--grain", "week", "--by", "users.plan",
            "--compare", "--weight", "order_count"]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    [found] = json.loads(result.output)
    orders = pd.read_pickle(folder / "orders.pkl")
    orders["plan"] = orders.user_id.str.rstrip("0123456789")
    orders["week"] = (orders.ts - dt.datetime(2026, 11, 2)).dt.days // 7
    by_plan = orders.groupby(["plan", "week"]).amount.mean().unstack()
    overall = orders.groupby("week").amount.mean()
    for plan in ("free", "pro"):
        assert found["segments"][plan] == pytest.approx(list(by_plan.loc[plan]), rel=1e-9)
    assert found["overall"] == pytest.approx(list(overall), rel=1e-9)
    finding = found["finding"]
    assert finding["reversal"] and finding["mix_shifted"]
    assert {s["value"] for s in finding["shifts"]} == {"free", "pro"}
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0, text.output
    assert "Simpson's paradox in `order_value` by `users.plan`" in text.output
    assert "mix differs between" in text.output


def test_compare_needs_one_dimension(folder: Path) -> None:
    result = CliRunner().invoke(app, ["query", "order_value", "-s", str(folder / "model.mspec"),
                                      "--compare"])
    assert result.exit_code == 2 and "exactly one --by" in result.output
