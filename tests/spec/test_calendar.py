"""The project's calendar block: read the same from the DSL and YAML, one per project, and
part of the meaning of what it cuts into periods (hashes, compile-cache keys)."""

from __future__ import annotations

from pathlib import Path

from metricspec.backends import resolve_dialects
from metricspec.diff import project_hashes
from metricspec.parse import load
from metricspec.pipeline.cached import QueryKeys
from metricspec.semantic import Index

SOURCE = """\
source events = table app.events {
  entity user_id: string
  time ts: timestamp
  column amount: number
}
metric revenue = sum(events.amount)
"""


def project(tmp_path: Path, calendar: str) -> Index:
    (tmp_path / "p.mspec").write_text(SOURCE + calendar)
    loaded = load([tmp_path])
    assert not loaded.diagnostics, loaded.diagnostics
    return Index(loaded.project)


def test_without_a_calendar_the_default_is_utc_iso_weeks_and_calendar_years(
        tmp_path: Path) -> None:
    calendar = project(tmp_path, "").calendar
    assert (calendar.timezone, calendar.week_start, calendar.fiscal_year_start) == (
        None, None, None)


def test_the_dsl_and_yaml_read_the_same_calendar(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    dsl = project(tmp_path / "a",
                  'calendar { timezone "Asia/Kolkata"; week_start sunday }\n').calendar
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "c.yaml").write_text("calendar:\n  timezone: Asia/Kolkata\n"
                                           "  week_start: Sunday\n")
    yaml = load([tmp_path / "b"]).project.calendars[0]
    assert (dsl.timezone, dsl.week_start) == (yaml.timezone, yaml.week_start) == (
        "Asia/Kolkata", "sunday")


def test_a_calendar_changes_the_meaning_of_metrics_and_the_cache_keys(tmp_path: Path) -> None:
    backend = resolve_dialects(["duckdb"])[0]
    found = {}
    for zone in ("", 'calendar { timezone "Europe/Berlin" }\n',
                 'calendar { timezone "America/Chicago" }\n'):
        index = project(tmp_path, zone)
        found[zone] = (project_hashes(index.project)[("metric", "revenue")].meaning,
                       QueryKeys(index, "v").query("metric", "revenue", backend))
    meanings = {m for m, _ in found.values()}
    keys = {k for _, k in found.values()}
    assert len(meanings) == len(keys) == 3


def test_a_description_is_metadata_not_meaning(tmp_path: Path) -> None:
    first = project(tmp_path, 'calendar { timezone "UTC" }\n')
    second = project(tmp_path, 'calendar { timezone "UTC"; description "ours" }\n')
    assert (project_hashes(first.project)[("metric", "revenue")].meaning
            == project_hashes(second.project)[("metric", "revenue")].meaning)
