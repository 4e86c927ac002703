"""Time-zone conversion is backend data: every shipped backend spells `local_time` and
`utc_time`; a backend file without them is a `check` diagnostic (MS443) at the declared zone,
only when a zone is declared, and never SQL or an unexplained error later."""

from __future__ import annotations

from pathlib import Path

import pytest

from metricspec.backends import all_backends, load_backend
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.plan.lower import InternalError
from metricspec.workspace import Workspace

LACKING = """\
name = "lacking"
title = "Lacking"
sqlglot_dialect = "trino"

[capabilities]
percentile = "exact"
group_by_all = false
filter_clause = true
identifier_case = "as_is"
timestamp_type = "TIMESTAMP"
week_unit = "WEEK"
decimal_literals = "exact"

[spellings]
spine_numbers = "SELECT n FROM spine_bounds CROSS JOIN UNNEST(SEQUENCE(0, {x})) AS t(n)"
"""
SOURCE = "source m = table s.m {{ entity user_id; time ts{zone} }}\nmetric n = count(m)\n"


@pytest.mark.parametrize("backend", list(all_backends().values()), ids=str)
def test_every_shipped_backend_converts_zones(backend) -> None:
    sql = SqlBuilder(backend)
    for convert in (sql.local_time, sql.utc_time):
        text = convert(sql.col("ts", "s"), "Europe/Berlin").sql(backend.sqlglot_dialect)
        assert "'Europe/Berlin'" in text and "ts" in text.lower(), text


def _check(tmp_path: Path, text: str) -> list:
    lacking = load_backend(_write(tmp_path))
    specs = tmp_path / "specs"
    specs.mkdir(exist_ok=True)
    (specs / "s.mspec").write_text(text, encoding="utf-8")
    return Workspace.load(specs, backends=[lacking]).errors


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "lacking.toml"
    path.write_text(LACKING, encoding="utf-8")
    return path


def test_a_backend_without_zone_spellings_is_a_check_error(tmp_path: Path) -> None:
    assert not _check(tmp_path, SOURCE.format(zone=""))  # no zone: nothing to convert
    [problem] = _check(tmp_path, 'calendar { timezone "Europe/Berlin" }\n'
                       + SOURCE.format(zone=""))
    assert problem.code == "MS443" and (problem.span.line, problem.span.column) == (1, 21)
    assert "local_time" in problem.message and "Lacking" in problem.message
    [problem] = _check(tmp_path, SOURCE.format(zone='; timezone "America/New_York"'))
    assert problem.code == "MS443" and "utc_time" in problem.message
    assert problem.span.line == 1
    assert not _check(tmp_path, 'calendar { timezone "UTC" }\n' + SOURCE.format(zone=""))
    lacking = load_backend(_write(tmp_path))
    with pytest.raises(InternalError, match="MS443"):
        SqlBuilder(lacking).local_time(SqlBuilder(lacking).col("ts"), "Europe/Berlin")
