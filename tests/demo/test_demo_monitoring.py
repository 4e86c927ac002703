"""The monitoring day: dense feedback in every 5-minute window and exactly one planted drop,
which the example `csat_drop` monitor catches in every one of its twelve windows."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from demo_warehouse import Warehouse

from metricspec.backends import get_backend
from metricspec.pipeline import compile_object
from metricspec.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]

INCIDENT = ("2026-11-16 14:00:00", "2026-11-16 15:00:00")


@pytest.fixture(scope="module")
def windows(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    """Per 5-minute window of 2026-11-16: start, thumbs count, up share, trailing-hour mean."""
    rows = warehouse.rows("""
        WITH w AS (
          SELECT time_bucket(INTERVAL 5 MINUTE, ts) AS start, count(*) AS n,
                 avg((thumbs = 'up')::INT) AS up_share
          FROM support.feedback WHERE thumbs IS NOT NULL AND ts >= '2026-11-15 22:00'
          GROUP BY ALL)
        SELECT start, n, up_share,
               avg(up_share) OVER (ORDER BY start ROWS BETWEEN 12 PRECEDING AND 1 PRECEDING),
               sum(n * up_share) OVER (ORDER BY start ROWS BETWEEN 12 PRECEDING AND 1 PRECEDING)
                 / sum(n) OVER (ORDER BY start ROWS BETWEEN 12 PRECEDING AND 1 PRECEDING)
        FROM w ORDER BY start""")
    return [r for r in rows if "2026-11-16" <= str(r[0]) < "2026-11-17"]


def in_incident(start: Any) -> bool:
    return INCIDENT[0] <= str(start) < INCIDENT[1]


def test_every_window_of_the_day_is_dense(windows: list[tuple[Any, ...]]) -> None:
    assert len(windows) == 288
    counts = [n for _, n, *_ in windows]
    assert min(counts) >= 225 and max(counts) <= 375
    assert 285 <= sum(counts) / len(counts) <= 315


def test_usual_share_and_incident_share(windows: list[tuple[Any, ...]]) -> None:
    usual = [share for start, _, share, *_ in windows if not in_incident(start)]
    incident = [share for start, _, share, *_ in windows if in_incident(start)]
    assert len(incident) == 12
    assert 0.75 <= sum(usual) / len(usual) <= 0.82
    assert 0.40 <= sum(incident) / len(incident) <= 0.50
    assert max(incident) < 0.6


def test_only_the_incident_drops_15_percent_below_the_trailing_hour(
    windows: list[tuple[Any, ...]],
) -> None:
    alerts_mean = [s for s, _, share, mean, _ in windows if share < 0.85 * mean]
    alerts_pooled = [s for s, _, share, _, pooled in windows if share < 0.85 * pooled]
    for alerts in (alerts_mean, alerts_pooled):
        assert alerts, "the incident must alert"
        assert all(in_incident(start) for start in alerts)
        assert str(alerts[0]) == INCIDENT[0]
    # And not by a hair: every other window stays well above the alert line.
    worst = min(share / mean for s, _, share, mean, _ in windows if not in_incident(s))
    assert worst > 0.86


def test_the_incident_stays_15_percent_below_the_hour_before_it(
    windows: list[tuple[Any, ...]],
) -> None:
    """Against the hour before 14:00 (a baseline the incident's own windows are not part
    of), every incident window is more than 15% down, and by a wide margin."""
    before = [share for start, _, share, *_ in windows if "13:00" <= str(start)[11:16] < "14:00"]
    assert len(before) == 12
    baseline = sum(before) / len(before)
    incident = [share for start, _, share, *_ in windows if in_incident(start)]
    assert max(incident) < 0.75 * baseline


def test_the_csat_drop_monitor_fires_in_all_twelve_windows_and_nowhere_else(
    warehouse: Warehouse,
) -> None:
    with contextlib.chdir(REPO):
        ws = Workspace.load(Path("specs"))
    assert ws.ok, ws.render("text")
    sql = compile_object(ws.index, "csat_drop", get_backend("duckdb")).sql
    fired = [str(row[0]) for row in warehouse.rows(sql)]
    assert fired == [f"2026-11-16 14:{m:02d}:00" for m in range(0, 60, 5)]


def test_incident_is_a_faulty_model_that_hallucinates(warehouse: Warehouse) -> None:
    rows = dict(
        warehouse.rows("""
        SELECT model_version, avg(hallucinated::INT) FROM support.messages
        WHERE role = 'assistant' AND ts >= '2026-11-16' GROUP BY ALL""")
    )
    assert set(rows) == {"support-llm-2026.11", "support-llm-2026.11.1"}
    assert rows["support-llm-2026.11.1"] > 2 * rows["support-llm-2026.11"]
    started = warehouse.rows("""
        SELECT min(started_ts), max(started_ts) FROM support.conversations
        WHERE model_version = 'support-llm-2026.11.1'""")[0]
    assert str(started[0]) >= INCIDENT[0] and str(started[1]) < INCIDENT[1]


def test_the_summary_names_the_incident(warehouse: Warehouse) -> None:
    incident = warehouse.summary.to_dict()["incident"]
    assert (incident["start"], incident["end"]) == ("2026-11-16T14:00:00", "2026-11-16T15:00:00")
    assert incident["incident_share"] == pytest.approx(0.45)
