"""`metricspec query` conveniences: relative ranges, `--where`, CSV and JSON output.

Values are compared with an independent pandas computation over the same warehouse tables.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from metricspec.cli import app
from metricspec.cli.ranges import RangeError, resolve

REPO = Path(__file__).parents[2]
SPECS = str(REPO / "specs")
runner = CliRunner()
NOW = dt.datetime(2026, 3, 31, 14, 37, 12)  # a Tuesday, at a month and quarter end


@pytest.mark.parametrize(("text", "since", "until"), [
    ("now", "2026-03-31 14:37", "2026-03-31 14:37"),
    ("today", "2026-03-31 00:00", "2026-04-01 00:00"),
    ("yesterday", "2026-03-30 00:00", "2026-03-31 00:00"),
    ("-7d", "2026-03-24 00:00", "2026-03-24 00:00"),
    ("-2w", "2026-03-17 00:00", "2026-03-17 00:00"),
    ("+1d", "2026-04-01 00:00", "2026-04-01 00:00"),
    ("-90m", "2026-03-31 13:07", "2026-03-31 13:07"),
    ("-12h", "2026-03-31 02:37", "2026-03-31 02:37"),
    ("-1mo", "2026-02-28 00:00", "2026-02-28 00:00"),   # 31 March minus a month
    ("-1q", "2025-12-31 00:00", "2025-12-31 00:00"),
    ("-1y", "2025-03-31 00:00", "2025-03-31 00:00"),
    ("this week", "2026-03-30 00:00", "2026-04-06 00:00"),  # ISO: from Monday
    ("last week", "2026-03-23 00:00", "2026-03-30 00:00"),
    ("this month", "2026-03-01 00:00", "2026-04-01 00:00"),
    ("last  Month", "2026-02-01 00:00", "2026-03-01 00:00"),
    ("this quarter", "2026-01-01 00:00", "2026-04-01 00:00"),
    ("last quarter", "2025-10-01 00:00", "2026-01-01 00:00"),
    ("last year", "2025-01-01 00:00", "2026-01-01 00:00"),
    ("2026-11-01", "2026-11-01 00:00", "2026-11-01 00:00"),
    ("2026-11-01T08:30", "2026-11-01 08:30", "2026-11-01 08:30"),
])
def test_range_semantics(text: str, since: str, until: str) -> None:
    assert resolve(text, "since", NOW) == dt.datetime.fromisoformat(since)
    assert resolve(text, "until", NOW) == dt.datetime.fromisoformat(until)


def test_last_month_in_january_and_leap_years() -> None:
    january = dt.datetime(2024, 1, 15, 9)
    assert resolve("last month", "since", january) == dt.datetime(2023, 12, 1)
    assert resolve("-1mo", "since", dt.datetime(2024, 3, 31)) == dt.datetime(2024, 2, 29)
    assert resolve("last week", "since", dt.datetime(2026, 1, 1)) == dt.datetime(2025, 12, 22)


@pytest.mark.parametrize("text", ["-7", "7d", "last decade", "-1s", "soon", "2026-13-01"])
def test_unknown_range_words(text: str) -> None:
    with pytest.raises(RangeError):
        resolve(text, "since", NOW)


def query(warehouse: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["query", "-s", SPECS, "-w", f"duckdb:///{warehouse}", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def expected_csat(warehouse: Path, channels: set[str], start: str, end: str) -> pd.Series:
    """CSAT per day by pandas: thumbs up over thumbs given, for the channels kept."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frame = con.execute("SELECT ts, channel, thumbs FROM support.feedback").df()
    frame = frame[(frame.ts >= start) & (frame.ts < end) & frame.channel.isin(channels)]
    day = frame.ts.dt.floor("D")
    grouped = frame.assign(day=day, up=frame.thumbs.eq("up"), given=frame.thumbs.notna())
    sums = grouped.groupby("day")[["up", "given"]].sum()
    return (sums.up / sums.given).rename("csat")


def test_where_filters_on_a_dimension(small_warehouse: Path) -> None:
    code, out, err = query(small_warehouse, "csat", "--since", "2026-11-01", "--until",
                           "2026-11-08", "--where", "channel = 'chat'", "-f", "json")
    assert code == 0, err
    rows = json.loads(out)
    got = pd.Series({pd.Timestamp(r["period"]): r["csat"] for r in rows}, name="csat")
    want = expected_csat(small_warehouse, {"chat"}, "2026-11-01", "2026-11-08")
    assert len(want) == 7
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False,
                                   check_index_type=False, rtol=1e-12)
    everything = expected_csat(small_warehouse, {"chat", "email", "voice"}, "2026-11-01",
                               "2026-11-08")
    assert not (everything - want).abs().lt(1e-9).all()  # the filter made a difference


def test_where_with_in_and_group_by(small_warehouse: Path) -> None:
    code, out, err = query(small_warehouse, "csat", "--since", "2026-11-01", "--until",
                           "2026-11-03", "--by", "channel", "--where",
                           "channel in ('chat', 'email')", "-f", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["period", "channel", "csat"]
    assert {r["channel"] for r in rows} == {"chat", "email"}
    for channel in ("chat", "email"):
        want = expected_csat(small_warehouse, {channel}, "2026-11-01", "2026-11-03")
        # a dense series: a day without feedback is a row with an empty (NULL) value
        got = {r["period"][:10]: float(r["csat"]) for r in rows
               if r["channel"] == channel and r["csat"] != ""}
        assert got == pytest.approx({d.strftime("%Y-%m-%d"): v for d, v in want.items()},
                                    rel=1e-12)


@pytest.mark.parametrize(("where", "shown", "code"), [
    ("chanel = 'chat'", ["--where:1:1: error[MS405]: `chanel` is not a dimension of `csat`",
                         "   1 | chanel = 'chat'", "     | ^^^^^^ did you mean `channel`?"],
     "MS405"),
    ("thumbs = 'up'", ["--where:1:1: error[MS405]: `thumbs` is not a dimension",
                       "^^^^^^ filter on one of channel"], "MS405"),
    ("channel = 'chat'; DROP TABLE x", ["--where:1:"], "MS40"),
    ("channel in (select 1)", ["--where:1:"], "MS40"),
])
def test_where_errors_point_at_the_option(small_warehouse: Path, where: str,
                                          shown: list[str], code: str) -> None:
    status, out, err = query(small_warehouse, "csat", "--where", where)
    assert status == 2 and out == ""
    assert f"error[{code}" in err
    for line in shown:
        assert line in err, err


def test_json_is_deterministic_and_csv_matches_it(small_warehouse: Path) -> None:
    args = ("csat", "latency_p95", "--since", "2026-11-01", "--until", "2026-11-04",
            "--by", "channel")
    first, second = query(small_warehouse, *args, "-f", "json"), query(
        small_warehouse, *args, "-f", "json")
    assert first == second and first[0] == 0
    rows = json.loads(first[1])
    table = list(csv.DictReader(io.StringIO(query(small_warehouse, *args, "-f", "csv")[1])))
    assert len(rows) == len(table) > 3
    for row, line in zip(rows, table, strict=True):
        assert list(row) == list(line) == ["period", "channel", "csat", "latency_p95"]
        for key, value in row.items():
            assert line[key] == ("" if value is None else str(value))


def test_relative_ranges_on_the_command_line(small_warehouse: Path) -> None:
    today = dt.datetime.now(dt.UTC).replace(tzinfo=None, hour=0, minute=0, second=0,
                                            microsecond=0)
    code, out, err = query(small_warehouse, "csat", "--since", "-3d", "--until", "today",
                           "-f", "json")
    assert code == 0, err  # the example data is older: no rows, but the range is accepted
    code, out, err = query(small_warehouse, "csat", "--since", "last month", "--until",
                           "last month", "-f", "csv")  # exactly last month
    assert code == 0, err
    start, end = resolve("last month", "since"), resolve("last month", "until")
    assert start.day == 1 and end.day == 1 and (end - start).days in (28, 29, 30, 31)
    want = expected_csat(small_warehouse, {"chat", "email", "voice"}, str(start), str(end))
    listed = list(csv.DictReader(io.StringIO(out)))
    assert len(listed) == (end - start).days  # dense: one row per day of the month
    got = {r["period"][:10]: float(r["csat"]) for r in listed if r["csat"] != ""}
    assert got == pytest.approx({d.strftime("%Y-%m-%d"): v for d, v in want.items()},
                                rel=1e-12)
    code, out, err = query(small_warehouse, "csat", "--since", "today", "--until", "-1d")
    assert code == 2 and "the time range is empty" in err
    result = runner.invoke(app, ["sql", "csat", "-s", SPECS, "--since", "-7d"])
    assert result.exit_code == 0
    assert (today - dt.timedelta(days=7)).strftime("%Y-%m-%d") in result.stdout
    code, _, err = query(small_warehouse, "csat", "--since", "a while ago")
    assert code == 2 and "--since `a while ago` is not a date, time, offset or period" in err


def hourly_samples(warehouse: Path, channel: str | None) -> tuple[int, int]:
    """Hours of 16 November with assistant latencies (for `channel`), and those with at
    least 100 of them (the guardrail's minimum sample), by pandas."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frame = con.execute("SELECT ts, channel, role, latency_ms FROM support.messages").df()
    frame = frame[(frame.ts >= "2026-11-16") & (frame.ts < "2026-11-17")
                  & frame.role.eq("assistant") & frame.latency_ms.notna()]
    if channel is not None:
        frame = frame[frame.channel.eq(channel)]
    counts = frame.groupby(frame.ts.dt.floor("h")).size()
    return len(counts), int((counts >= 100).sum())


@pytest.mark.parametrize("channel", [None, "chat", "email"])
def test_monitor_where(small_warehouse: Path, channel: str | None) -> None:
    where = ["--where", f"channel = '{channel}'"] if channel else []
    result = runner.invoke(app, ["monitor", "latency_budget", "-s", SPECS, "-w",
                                 f"duckdb:///{small_warehouse}", "--since", "2026-11-16",
                                 "--until", "2026-11-17", "-f", "json", *where])
    assert result.exit_code in (0, 1, 4), result.output
    [report] = json.loads(result.stdout)["monitors"]
    coverage = report["coverage"]
    assert (coverage["windows"], coverage["judged"]) == hourly_samples(small_warehouse, channel)


def test_monitor_where_errors_name_the_monitors_metric(small_warehouse: Path) -> None:
    result = runner.invoke(app, ["monitor", "latency_budget", "-s", SPECS, "-w",
                                 f"duckdb:///{small_warehouse}", "--where", "cost_usd > 1"])
    assert result.exit_code == 2
    assert "`cost_usd` is not a dimension of `latency_p95`" in result.stderr


def test_sql_where_runs_and_gives_the_filtered_numbers(small_warehouse: Path) -> None:
    result = runner.invoke(app, ["sql", "csat", "-s", SPECS, "--since", "2026-11-01",
                                 "--until", "2026-11-05", "--where", "channel <> 'email'"])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(small_warehouse), read_only=True) as con:
        frame = con.execute(result.stdout).df()
    got = {str(p)[:10]: v for p, v in zip(frame.period, frame.csat, strict=True)
           if not pd.isna(v)}
    want = {d.strftime("%Y-%m-%d"): v for d, v in expected_csat(
        small_warehouse, {"chat", "voice"}, "2026-11-01", "2026-11-05").dropna().items()}
    assert got == pytest.approx(want, rel=1e-12) and len(want) == 4
    result = runner.invoke(app, ["sql", "summarizer_v2", "-s", SPECS, "--where", "x = 1"])
    assert result.exit_code == 2 and "--where applies to metrics" in result.stderr


def test_wide_tables_are_split_not_cut_at_80_columns(small_warehouse: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Five metrics by day and channel do not fit 80 columns: the table is printed in parts,
    each repeating the period and channel, so no date, name or value is cut short."""
    from metricspec.cli import common

    monkeypatch.setattr(common.out, "_width", 80)
    metrics = ["task_completion", "hallucination_rate", "cost_per_query", "escalation_rate",
               "csat"]
    args = [*metrics, "--since", "2026-11-01", "--until", "2026-11-03", "--by", "channel"]
    result = runner.invoke(app, ["query", "-s", SPECS, "-w", f"duckdb:///{small_warehouse}",
                                 *args])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.stdout
    headers = [line for line in lines if line.startswith("┃")]
    assert len(headers) >= 2 and all("period" in h and "channel" in h for h in headers)
    shown = " ".join(headers)
    assert all(shown.count(m) == 1 for m in metrics)  # each metric in exactly one part
    rows = json.loads(query(small_warehouse, *args, "-f", "json")[1])
    cells = [line for line in lines if line.startswith("│")]
    assert len(cells) == len(rows) * len(headers)
    for row in rows:  # every row's period and channel, in full, in every part
        assert sum(row["period"][:10] in c and row["channel"] in c for c in cells) == len(
            headers)
