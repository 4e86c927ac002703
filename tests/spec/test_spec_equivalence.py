"""DSL ≡ YAML: the two front ends build the same IR, and both put spans where the text is.

`equivalent/dsl/project.mspec` and `equivalent/yaml/project.yaml` say the same thing, using
every construct of the language (checked below, so the pair cannot silently shrink). The
YAML file deliberately uses every scalar style: plain, single- and double-quoted, flow
mappings, literal and folded blocks.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from metricspec import ir
from metricspec.workspace import Workspace

HERE = Path(__file__).parent
DSL = HERE / "equivalent" / "dsl"
YAML = HERE / "equivalent" / "yaml"


def load(path: Path) -> Workspace:
    return Workspace.load(path)


def comparable(project: ir.Project) -> dict[str, object]:
    data: dict[str, object] = ir.strip_spans(project)
    data.pop("files")
    return data


def nodes(value: object) -> Iterator[BaseModel]:
    """Every IR node under `value`, depth first."""
    if isinstance(value, ir.Span):
        return
    if isinstance(value, BaseModel):
        yield value
        for name in type(value).model_fields:
            yield from nodes(getattr(value, name))
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from nodes(item)


@pytest.fixture(scope="module")
def dsl() -> Workspace:
    return load(DSL)


@pytest.fixture(scope="module")
def yaml() -> Workspace:
    return load(YAML)


def test_both_forms_are_clean(dsl: Workspace, yaml: Workspace) -> None:
    assert dsl.diagnostics == [] and yaml.diagnostics == []


def test_dsl_and_yaml_give_equal_ir(dsl: Workspace, yaml: Workspace) -> None:
    left, right = comparable(dsl.project), comparable(yaml.project)
    for kind in left:
        assert left[kind] == right[kind], f"{kind} differ"
    assert left == right


def _literal_values(annotation: object) -> set[str]:
    return set(typing.get_args(annotation))


def test_the_pair_uses_every_construct(dsl: Workspace) -> None:
    p = dsl.project
    every = list(nodes(p))
    aggregates = [n for n in every if isinstance(n, ir.Aggregate)]
    assert {a.func for a in aggregates} == _literal_values(ir.expr.AggFunc)
    assert {a.quantile for a in aggregates if a.func == "quantile"} >= {0.5, 0.9, 0.95, 0.99}
    assert any(a.filter for a in aggregates) and any(a.column is None for a in aggregates)
    # balances with and without `per` (an approximate count warns that PostgreSQL lacks
    # it, so it is compared in tests/spec/test_aggregate_options.py)
    assert {a.semi.choice for a in aggregates if a.semi} == {"first", "last"}
    assert {len(a.semi.per) for a in aggregates if a.semi} == {0, 2}
    kinds = {type(n) for n in every}
    assert kinds >= {ir.Number, ir.MetricRef, ir.BinaryOp, ir.Negate, ir.Aggregate,
                     ir.Weighted, ir.Conversion, ir.Window, ir.Offset}
    assert {n.mode for n in every if isinstance(n, ir.Offset)} == {"offset", "growth"}
    assert {(m.baseline_offset.amount, m.baseline_offset.unit) for m in p.monitors
            if m.baseline_offset} == {(1, "week"), (1, "year")}
    assert {n.op for n in every if isinstance(n, ir.BinaryOp)} == {"+", "-", "*", "/"}
    assert {n.mode for n in every if isinstance(n, ir.Window)} == {"rolling", "cumulative"}
    conversions = [n for n in every if isinstance(n, ir.Conversion)]
    assert any(c.entity for c in conversions) and any(c.start.filter for c in conversions)
    assert {s.table is not None for s in p.sources} == {True, False}
    assert any(c.type for s in p.sources for c in s.all_columns())
    # star schemas: both entity roles, a derived and a slowly changing dimension
    assert {e.role for s in p.sources for e in s.entities} == {None, "primary", "foreign"}
    assert any(s.derived for s in p.sources) and any(s.valid_from for s in p.sources)
    for field in ("label", "description", "owner", "unit", "format", "direction", "tags",
                  "baseline"):
        assert any(getattr(m, field) for m in p.metrics), f"no metric sets {field}"
    # a ratio of two sources sharing an entity
    assert any(len({a.source.name for a in ir.walk(m.expr) if isinstance(a, ir.Aggregate)})
               == 2 for m in p.metrics)
    assert {e.composition for k in p.kpis for e in k.edges} == _literal_values(
        ir.spec.Composition)
    assert all(k.north_star and k.label and k.description and k.owner for k in p.kpis)
    assert {g.comparator for g in p.guardrails} == {"<", "<=", ">", ">="}
    assert {g.threshold.kind for g in p.guardrails} == {"number", "percent", "pp"}
    assert any(g.every for g in p.guardrails) and any(g.description for g in p.guardrails)
    defaults = ir.Experiment(span=ir.Span.unknown(), name="x")
    for field in ir.Experiment.model_fields:
        if field in ("span", "name", "setting_spans"):
            continue
        assert any(getattr(e, field) != getattr(defaults, field) for e in p.experiments), (
            f"no experiment sets {field}")
    assert {g.margin.kind for e in p.experiments for g in e.guardrails if g.margin} == {
        "max_increase", "max_decrease", "margin"}
    assert {e.mde.relative for e in p.experiments if e.mde} == {True, False}
    assert {e.sequential.looks is None for e in p.experiments if e.sequential} == {True, False}
    assert {e.sequential.spending for e in p.experiments if e.sequential} == {
        None, "obrien_fleming"}
    assert {e.analysis for e in p.experiments} == {"frequentist", "bayesian"}
    assert {e.prior is None for e in p.experiments} == {True, False}
    assert {m.prior is None for m in p.metrics} == {True, False}
    assert {e.stratify is None for e in p.experiments} == {True, False}
    assert {e.window.end_is_date for e in p.experiments if e.window} == {True, False}
    assert {m.alert.kind for m in p.monitors if m.alert} == _literal_values(
        ir.AlertRule.model_fields["kind"].annotation)
    assert any(m.alert and m.alert.consecutive > 1 for m in p.monitors)
    for field in ("label", "description", "owner", "baseline", "min_n", "dimensions"):
        assert any(getattr(m, field) for m in p.monitors), f"no monitor sets {field}"


def _text_at(lines: list[str], span: ir.Span) -> str:
    line = lines[span.line - 1]
    if span.end_line == span.line:
        return line[span.column - 1:span.end_column - 1]
    return line[span.column - 1:]


@pytest.mark.parametrize("folder", [DSL, YAML], ids=["dsl", "yaml"])
def test_spans_point_at_the_text_they_describe(folder: Path) -> None:
    ws = load(folder)
    [file] = ws.project.files
    lines = Path(file).read_text(encoding="utf-8").split("\n")
    checked = 0
    for node in nodes(ws.project):
        span = node.span
        if span.file != file:
            continue
        text = _text_at(lines, span)
        if isinstance(node, (ir.Ref, ir.MetricRef)):
            assert text == node.name, (span, node.name, text)
        elif isinstance(node, ir.Aggregate):
            assert text.startswith(("count", "sum", "avg", "mean", "min", "max", "median",
                                    "p", "quantile")) and text.endswith(")"), (span, text)
        elif isinstance(node, ir.Filter) and "\n" not in node.sql:
            assert text.startswith(node.sql.split()[0]), (span, node.sql, text)
        elif isinstance(node, (ir.Number, ir.Amount)):
            assert text[:1].isdigit() or text[:1] in "-.", (span, text)
        elif isinstance(node, ir.Duration):
            assert text.split()[0] == str(node.value), (span, text)
        else:
            continue
        checked += 1
    assert checked > 100
