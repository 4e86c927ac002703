"""The backend files are validated data: a mistake in one is an error naming the file and the
field, a construct a warehouse lacks is a `check` diagnostic (MS703), and a backend metricspec
only compiles for is refused by `connect` with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from metricspec.backend_help import dialect_help, warehouse_help
from metricspec.backends import (
    SPELLINGS,
    BackendFileError,
    all_backends,
    load_backend,
    url_examples,
)
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.plan.lower import InternalError
from metricspec.run.connections import WarehouseError, connect
from metricspec.workspace import Workspace

GOOD = """\
name = "{name}"
title = "Example"
sqlglot_dialect = "trino"

[capabilities]
percentile = "approximate"
group_by_all = false
filter_clause = true
identifier_case = "lower"
timestamp_type = "TIMESTAMP"
week_unit = "WEEK"
decimal_literals = "exact"

[spellings]
spine_numbers = "SELECT n FROM UNNEST(SEQUENCE(0, {x})) AS t(n) CROSS JOIN spine_bounds"
"""


def _write(tmp_path: Path, text: str, name: str = "example") -> Path:
    head, sep, rest = text.partition("[spellings]\n")
    text = head + sep + rest.replace("[spellings]\n", "")  # a case's spellings join GOOD's
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace("{name}", name), encoding="utf-8")
    return path


def test_every_shipped_backend_loads_and_its_spellings_parse() -> None:
    for backend in all_backends().values():
        assert backend.file == f"backends/{backend.name}.toml"
        for construct in SPELLINGS:
            backend.spelling(construct)  # parsed once, in the backend's dialect


def test_a_good_file_loads(tmp_path: Path) -> None:
    backend = load_backend(_write(tmp_path, GOOD))
    assert backend.compile_only and backend.approximate_percentiles


@pytest.mark.parametrize(("change", "field"), [
    (("[capabilities]", "qualify = true\n[capabilities]"), "qualify"),
    (("week_unit", "boolean_sum = true\nweek_unit"), "capabilities.boolean_sum"),
    (('percentile = "approximate"', 'percentile = "maybe"'), "capabilities.percentile"),
    (('percentile = "approximate"', 'percentile_shape = "within_group"'),
     "capabilities.percentile"),
    (("group_by_all = false", 'group_by_all = "no"'), "capabilities.group_by_all"),
    (('"TIMESTAMP"', '"DATETIME"'), "capabilities.timestamp_type"),
    (('title = "Example"', "title = 3"), "title"),
    (('sqlglot_dialect = "trino"', 'sqlglot_dialect = "trino"\ndriver = "trino"'), "file"),
    (('name = "{name}"', 'name = "other"'), "name"),
    (("", '[spellings]\nmedian = "MEDIAN({x})"'), "spellings.median"),
    (("", '[aggregates]\nfiltered_distinct = "maybe"'), "aggregates.filtered_distinct"),
    (("", '[aggregates]\nfiltered_median = "case"'), "aggregates.filtered_median"),
    (("", '[spellings]\npercentile = "PERCENTILE({x}, {p})"'), "spellings"),
    (("", '[spellings]\nsafe_divide = "{y} / 2"'), "spellings"),
    (("spine_numbers", "# spine_numbers"), "spellings.spine_numbers is required"),
])
def test_a_bad_file_names_the_file_and_the_field(
        tmp_path: Path, change: tuple[str, str], field: str) -> None:
    old, new = change
    text = GOOD + "\n" + new if not old else GOOD.replace(old, new, 1)
    with pytest.raises(BackendFileError) as caught:
        load_backend(_write(tmp_path, text))
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "example.toml") + ": "), message
    assert field in message, message


def test_a_filter_spelling_needs_the_filter_clause(tmp_path: Path) -> None:
    text = GOOD.replace("filter_clause = true", "filter_clause = false")
    assert load_backend(_write(tmp_path, text)).aggregates.filtered_sum == "case"  # default
    with pytest.raises(BackendFileError, match=r"example\.toml: .*aggregates\.filtered_sum = "
                                               r"\"filter\" needs capabilities\.filter_clause"):
        load_backend(_write(tmp_path, text + '\n[aggregates]\nfiltered_sum = "filter"\n'))


def test_a_file_that_is_not_toml_is_named(tmp_path: Path) -> None:
    with pytest.raises(BackendFileError, match=r"example\.toml: not valid TOML"):
        load_backend(_write(tmp_path, GOOD + "[capabilities\n"))


def test_a_template_that_is_not_sql_of_its_dialect_is_named(tmp_path: Path) -> None:
    backend = load_backend(_write(tmp_path, GOOD + '\n[spellings]\npercentile = "F({x}, "\n'))
    with pytest.raises(BackendFileError, match=r"example\.toml: spellings\.percentile: "):
        backend.spelling("percentile")


def test_a_placeholder_must_stand_for_a_value(tmp_path: Path) -> None:
    text = GOOD + '\n[spellings]\ntimestamp_sub = "DATE_ADD(\'{seconds}\', 1, {x})"\n'
    backend = load_backend(_write(tmp_path, text))
    with pytest.raises(BackendFileError, match=r"spellings\.timestamp_sub: .*\{seconds\} is not"):
        backend.spelling("timestamp_sub")


def test_a_percentile_the_warehouse_lacks_is_a_check_error(tmp_path: Path) -> None:
    """MS703 at the metric, never SQL the warehouse cannot run."""
    lacking = load_backend(_write(tmp_path, GOOD.replace('"approximate"', '"none"')))
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "s.mspec").write_text(
        "source m = table s.m { entity user_id: string; time ts: timestamp; "
        "column latency: integer }\nmetric slow = p95(m.latency)\nmetric n = count(m)\n",
        encoding="utf-8")
    ws = Workspace.load(specs, backends=[lacking])
    [problem] = ws.errors
    assert problem.code == "MS703" and problem.span.line == 2, problem
    assert "Example has no aggregate percentile" in problem.message
    assert not Workspace.load(specs, backends=[all_backends()["duckdb"]]).errors
    with pytest.raises(InternalError, match="MS703"):
        SqlBuilder(lacking).percentile(SqlBuilder(lacking).col("x"), 0.95, None)


@pytest.mark.parametrize("backend", [b for b in all_backends().values() if b.compile_only],
                         ids=str)
def test_connect_refuses_a_backend_it_only_compiles_for(backend) -> None:
    with pytest.raises(WarehouseError, match=f"compile-only|{backend.name}") as caught:
        connect(f"{backend.name}://host/catalog")
    assert "compile" in str(caught.value)


def test_command_line_help_comes_from_the_backend_files() -> None:
    for backend in all_backends().values():
        assert backend.name in dialect_help()
        for example in backend.url_examples[:1]:
            assert example in warehouse_help()
    assert len(url_examples()) == sum(len(b.url_examples) for b in all_backends().values())
