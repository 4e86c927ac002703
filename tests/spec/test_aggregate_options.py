"""Aggregate options (issue 12): `count_distinct(x, approximate)` and semi-additive
`sum(x, last per entity)`, in both front ends, through check, plan, emit and the labels.

Their values are proven on engines in tests/engines/test_semi_approx.py (and the example
`backlog` metric in tests/sql/test_sql_metrics.py); here: the same IR from DSL and YAML,
spans on the option's text, what `check` says per backend, measures shared or kept apart,
the spelling each warehouse gets, and the labels of approximate and semi-additive values.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from metricspec import ir
from metricspec.backends import all_backends, get_backend
from metricspec.cli.query_output import value_notes
from metricspec.document.docs import metric_kind
from metricspec.pipeline import compile_object
from metricspec.plan.metric_query import Grain, plan_metric_query
from metricspec.workspace import Workspace

SOURCES = """\
source snaps = table app.snaps {
  entity account_id, region_id
  time snapshot_ts
  dimension channel
  column balance: number
}
"""
DSL = SOURCES + """\
metric balance = sum(snaps.balance where channel <> 'test', last per account_id, region_id)
metric opening = avg(snaps.balance, first)
metric accounts = count_distinct(snaps.account_id, approximate)
metric accounts_7d = rolling(accounts, 7 days)
"""
YAML = """\
metrics:
  balance:
    expr: sum(snaps.balance where channel <> 'test', last per account_id, region_id)
  opening: {expr: 'avg(snaps.balance, first)'}
  accounts: {expr: "count_distinct(snaps.account_id, approximate)"}
  accounts_7d: {expr: 'rolling(accounts, 7 days)'}
"""


def _load(folder: Path, files: dict[str, str], *dialects: str) -> Workspace:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return Workspace.load(folder, backends=[get_backend(d) for d in dialects])


@pytest.fixture(scope="module")
def dsl(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return _load(tmp_path_factory.mktemp("dsl"), {"p.mspec": DSL}, "duckdb")


def _aggregates(ws: Workspace, metric: str) -> list[ir.Aggregate]:
    return [n for n in ir.walk(ws.index.metrics[metric].expr) if isinstance(n, ir.Aggregate)]


def test_dsl_and_yaml_build_the_same_options(dsl: Workspace, tmp_path: Path) -> None:
    yaml = _load(tmp_path, {"s.mspec": SOURCES, "m.yaml": YAML}, "duckdb")
    assert dsl.diagnostics == [] and yaml.diagnostics == []
    for name in ("balance", "opening", "accounts", "accounts_7d"):
        assert ir.strip_spans(dsl.index.metrics[name].expr) == ir.strip_spans(
            yaml.index.metrics[name].expr), name
    (balance,) = _aggregates(dsl, "balance")
    assert balance.semi is not None and balance.semi.choice == "last"
    assert [r.name for r in balance.semi.per] == ["account_id", "region_id"]
    assert balance.filter is not None and not balance.approximate
    (accounts,) = _aggregates(dsl, "accounts")
    assert accounts.approximate and accounts.semi is None


def test_the_option_span_is_its_text(dsl: Workspace) -> None:
    (balance,) = _aggregates(dsl, "balance")
    assert balance.semi is not None
    line = DSL.split("\n")[balance.semi.span.line - 1]
    start = balance.semi.span.column - 1
    assert line[start:].startswith("last per account_id, region_id)")


def test_without_a_dialect_check_warns_which_warehouses_lack_hll(tmp_path: Path) -> None:
    ws = _load(tmp_path, {"p.mspec": DSL})
    found = [(d.code, d.severity.value) for d in ws.diagnostics]
    assert found == [("MS455", "warning")]
    lacking = [b.title for b in all_backends().values()
               if b.spellings.approx_count_distinct is None]
    assert lacking and all(t in ws.diagnostics[0].message for t in lacking)


def test_a_semi_measure_is_its_own_measure_and_shared_by_identity(dsl: Workspace) -> None:
    plan = plan_metric_query(dsl.index, ["balance", "opening"])
    (scan,) = plan.scans
    semis = {m.semi for m in scan.measures}
    assert len(scan.measures) == 3  # the balance's sum; the opening mean's sum and count
    assert {s.choice for s in semis if s} == {"first", "last"}
    plain = plan_metric_query(dsl.index, ["balance", "opening", "accounts"])
    assert len(plain.scans[0].measures) == 4


@pytest.mark.parametrize("name", sorted(all_backends()))
def test_every_warehouse_with_hll_spells_it_and_the_sql_parses(dsl: Workspace,
                                                               name: str) -> None:
    backend = get_backend(name)
    if backend.spellings.approx_count_distinct is None:
        pytest.skip(f"{backend.title} has none: check refuses it (MS455)")
    for metric in ("accounts", "accounts_7d", "balance"):
        sql = compile_object(dsl.index, metric, backend, grain=Grain.parse("day")).sql
        tree = sqlglot.parse_one(sql, read=backend.sqlglot_dialect)
        found = list(tree.find_all(sqlglot.exp.ApproxDistinct))
        assert bool(found) == (metric != "balance"), metric
        assert not any(isinstance(c.this, sqlglot.exp.Distinct)
                       for c in tree.find_all(sqlglot.exp.Count)) or metric == "balance"


def test_approximate_and_semi_additive_values_are_labelled(dsl: Workspace) -> None:
    index = dsl.index
    assert ir.qualifiers(index.expand(index.metrics["accounts_7d"].expr)) == ("approximate",)
    assert metric_kind(index.metrics["accounts_7d"].expr,
                       index.expand(index.metrics["accounts_7d"].expr)) == "rolling, approximate"
    assert metric_kind(index.metrics["balance"].expr,
                       index.metrics["balance"].expr) == "simple, semi-additive"
    notes = value_notes(index, ["balance", "accounts", "accounts_7d"])
    assert notes[0].startswith("semi-additive") and notes[0].endswith(": balance")
    assert notes[1].startswith("approximate") and notes[1].endswith(": accounts, accounts_7d")
    compiled = compile_object(index, "accounts", get_backend("duckdb"))
    assert any("HyperLogLog" in n for n in compiled.notes)
    assert "HyperLogLog" in compiled.sql.split("\n\n")[0] or any(
        "HyperLogLog" in line for line in compiled.sql.splitlines() if line.startswith("--"))


def test_hashes_of_definitions_without_options_are_unchanged(dsl: Workspace) -> None:
    """Running experiments pin metrics by meaning hash (metricspec.lock): the new fields at
    their defaults stay out of a definition, so no existing hash moves; used, they count."""
    from metricspec.hashing import definition, digest

    plain = dsl.index.metrics["accounts"].model_copy(update={"expr": _aggregates(
        dsl, "accounts")[0].model_copy(update={"approximate": False})})
    text = str(definition(plain))
    assert "approximate" not in text and "semi" not in text
    assert digest(definition(plain)) != digest(definition(dsl.index.metrics["accounts"]))
    assert "'semi'" in str(definition(dsl.index.metrics["balance"]))
