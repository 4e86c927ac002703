"""Monitor and guardrail queries return exactly the windows `monitor_reference` (pandas)
returns, with the same values, sample sizes, baselines and deviations.

The example monitors and guardrails of `specs/`, plus test-local ones (written next to a
copy of the example specs) for the shapes the examples lack: a monitor by a dimension, a
z-score below, a rise above a baseline, a longer streak, strict guardrail comparators.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from sql_paths import REPO
from monitor_reference import alerts, rule_of
from sql_reference import Tables, assert_same_rows

from metricspec.backends import get_backend
from metricspec.emit.compile import compile_object
from metricspec.semantic import Index
from metricspec.workspace import Workspace

INCIDENT_DAY = (dt.datetime(2026, 11, 16), dt.datetime(2026, 11, 17))
COLUMNS = ["period", "value", "sample_n", "baseline", "baseline_windows", "deviation"]
EXAMPLES = ("csat_drop", "hallucination_spike", "slow_answers", "latency_budget",
            "hallucination_ceiling")
RANGES = {
    "all": (None, None),
    "incident day": INCIDENT_DAY,
    "november": (dt.datetime(2026, 11, 1), dt.datetime(2026, 11, 17)),
}
EXTRA = """
monitor csat_by_channel {
  metric csat; every 15 minutes; baseline trailing 2 hours
  alert when below baseline by 10%; min_n 20; dimensions channel
}
monitor retries_fall { metric retry_rate; every 1 hour; baseline trailing 12 hours
  alert when zscore below -2; min_n 30 }
monitor cost_rises { metric cost_per_query; every 1 day; baseline trailing 7 days
  alert when above baseline by 3% }
monitor slow_streak { metric latency_p95; every 1 hour; alert when above 4300 for 3 windows
  min_n 50 }
guardrail csat_floor_strict = csat > 80% every 5 minutes
guardrail csat_ceiling_strict = csat < 75% every 5 minutes
guardrail completion_floor = task_completion >= 60% every 1 hour
"""
EXTRAS = ("csat_by_channel", "retries_fall", "cost_rises", "slow_streak", "csat_floor_strict",
          "csat_ceiling_strict", "completion_floor")


@pytest.fixture(scope="module")
def extra_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    folder = tmp_path_factory.mktemp("monitor-specs")
    shutil.copytree(REPO / "specs", folder / "specs")
    (folder / "specs" / "extra_monitors.mspec").write_text(EXTRA, encoding="utf-8")
    with contextlib.chdir(folder):
        ws = Workspace.load(Path("specs"))
    assert ws.ok, ws.render("text")
    return ws.index


def _alerts(con: duckdb.DuckDBPyConnection, index: Index, name: str,
            start: dt.datetime | None, end: dt.datetime | None) -> pd.DataFrame:
    sql = compile_object(index, name, get_backend("duckdb"), start=start, end=end).sql
    return con.execute(sql).df()


def _check(con, tables: Tables, index: Index, name: str, start, end) -> pd.DataFrame:
    rule = rule_of(index, name)
    actual = _alerts(con, index, name, start, end)
    expected = alerts(tables, rule, start, end)
    columns = ["period", *rule.dims, *COLUMNS[1:]]
    assert list(actual.columns) == columns
    assert_same_rows(actual, expected, ["period", *rule.dims],
                     exact={"sample_n", "baseline_windows"}, columns=columns)
    return actual


def test_every_example_monitor_and_guardrail_is_covered(index: Index) -> None:
    assert set(index.monitors) | set(index.guardrails) == set(EXAMPLES)


@pytest.mark.parametrize("window", list(RANGES))
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_alerts_equal_pandas(con, tables, index, name: str, window: str) -> None:
    _check(con, tables, index, name, *RANGES[window])


@pytest.mark.parametrize("window", ["all", "november"])
@pytest.mark.parametrize("name", EXTRAS)
def test_more_alert_shapes_equal_pandas(con, tables, extra_index, name: str,
                                        window: str) -> None:
    fired = _check(con, tables, extra_index, name, *RANGES[window])
    if window == "all":
        assert len(fired) > 0, f"{name} never fires on the demo data: the test proves little"


def test_csat_drop_fires_during_the_incident_only(con, tables, index) -> None:
    """On 2026-11-16 the CSAT drop alerts, and only inside 14:00–15:00."""
    actual = _check(con, tables, index, "csat_drop", *INCIDENT_DAY)
    assert len(actual) > 0
    hours = actual.period.dt.strftime("%H:%M")
    assert ((hours >= "14:00") & (hours < "15:00")).all(), hours.tolist()


def test_most_example_rules_fire(con, index) -> None:
    """The example rules alert on the demo data, so the comparisons above are not all
    comparisons of empty results (slow_answers needs two slow hours in a row, which the
    small warehouse may not have; `slow_streak` above covers streaks)."""
    fired = {name: len(_alerts(con, index, name, None, None)) for name in EXAMPLES}
    quiet = [name for name, n in fired.items() if n == 0 and name != "slow_answers"]
    assert not quiet, fired


def test_streak_that_began_before_start_still_fires(con, tables, extra_index) -> None:
    """`for 3 windows` from a `start` in the middle of a streak: the windows before `start`
    count, so the result is the full-history result from `start` on."""
    rule = rule_of(extra_index, "slow_streak")
    history = alerts(tables, rule)
    breaching = set(alerts(tables, dataclasses.replace(rule, consecutive=1)).period)
    hour = pd.Timedelta(hours=1)
    # the first alert of a streak of three whole consecutive hours
    starts = [p for p in history.period
              if p - hour in breaching and p - 2 * hour in breaching
              and p - hour not in set(history.period)]
    assert starts
    for start in starts[:3]:
        fired = _alerts(con, extra_index, "slow_streak", start.to_pydatetime(), None)
        assert fired.period.iloc[0] == start
        expected = history[history.period >= start].period.tolist()
        assert fired.period.tolist() == expected
