"""`metricspec query --where` on PostgreSQL: the dimension filter applied in the plan gives
the same numbers as pandas over the rows loaded into the server."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from harness.postgres_engine import PostgresEngine
from typer.testing import CliRunner

from metricspec.cli import app
from metricspec.demo import generate

REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def feedback(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    path = tmp_path_factory.mktemp("where") / "w.duckdb"
    generate(path, scale=0.02)
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT * FROM support.feedback").df()


def test_where_on_postgres(postgres_engine: PostgresEngine, feedback: pd.DataFrame) -> None:
    import pyarrow as pa

    postgres_engine.load({"support.feedback": pa.Table.from_pandas(feedback,
                                                                   preserve_index=False)})
    result = CliRunner().invoke(app, [
        "query", "csat", "-s", str(REPO / "specs"), "-w", postgres_engine.server.url,
        "--since", "2026-11-01", "--until", "2026-11-08", "--by", "channel",
        "--where", "channel <> 'voice' and channel is not null", "-f", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    kept = feedback[(feedback.ts >= "2026-11-01") & (feedback.ts < "2026-11-08")
                    & feedback.channel.isin(["chat", "email"])]
    sums = kept.assign(day=kept.ts.dt.strftime("%Y-%m-%d"), up=kept.thumbs.eq("up"),
                       given=kept.thumbs.notna()).groupby(["day", "channel"])[
        ["up", "given"]].sum()
    want = {key: up / given if given else None
            for key, (up, given) in sums.iterrows()}
    # a dense series (docs/language.md, "Time"): every day of the range for every channel
    # seen in it, NULL where a channel had no feedback that day
    days = [f"2026-11-0{d}" for d in range(1, 8)]
    want = {(day, channel): want.get((day, channel)) for day in days
            for channel in sorted({c for _, c in want})}
    got = {(r["period"][:10], r["channel"]): r["csat"] for r in rows}
    assert {c for _, c in got} == {"chat", "email"}
    assert got.keys() == want.keys() and len(got) >= 10
    for key, value in want.items():
        assert got[key] == (None if value is None else pytest.approx(value, rel=1e-12)), key
