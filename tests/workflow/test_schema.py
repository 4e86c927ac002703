"""The JSON Schema of the YAML form: generated from models that list the reader's keys,
committed, valid for every example spec and invalid for typical mistakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from metricspec import schema
from metricspec.check.experiments import CORRECTIONS
from metricspec.check.types import DIRECTIONS, FORMATS
from metricspec.cli import app
from metricspec.parse import yaml_spec
from metricspec.workspace import Workspace

REPO = Path(__file__).parents[2]
COMMITTED = REPO / "schema" / "metricspec.schema.json"
VALID = sorted([*(REPO / "specs").rglob("*.yaml"),
                *(REPO / "tests/spec/equivalent/yaml").rglob("*.yaml")])
validator = jsonschema.Draft202012Validator(json.loads(COMMITTED.read_text()))


def load(text: str) -> Any:
    return YAML(typ="safe").load(text)


def test_the_committed_schema_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == schema.json_schema_text(), (
        "run `metricspec schema -o schema/metricspec.schema.json`")
    jsonschema.Draft202012Validator.check_schema(json.loads(COMMITTED.read_text()))


def test_the_command_prints_and_writes_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0 and result.stdout == COMMITTED.read_text()
    result = CliRunner().invoke(app, ["schema", "-o", str(tmp_path / "s.json")])
    assert result.exit_code == 0 and (tmp_path / "s.json").read_text() == COMMITTED.read_text()


@pytest.mark.parametrize(("model", "kind"), [
    (schema.Source, "source"), (schema.Metric, "metric"), (schema.Baseline, "baseline"),
    (schema.Kpi, "kpi"), (schema.Guardrail, "guardrail"), (schema.Experiment, "experiment"),
    (schema.Assignment, "assignment"), (schema.Monitor, "monitor"),
])
def test_the_models_list_the_readers_keys(model: type, kind: str) -> None:
    assert set(model.model_fields) == set(yaml_spec._KEYS[kind])  # type: ignore[attr-defined]


def test_sections_and_word_lists_match_the_reader_and_checker() -> None:
    assert tuple(schema.SpecFile.model_fields) == yaml_spec.SECTIONS
    words = schema.json_schema()["$defs"]
    assert tuple(words["Metric"]["properties"]["format"]["anyOf"][0]["enum"]) == FORMATS
    assert tuple(words["Metric"]["properties"]["direction"]["anyOf"][0]["enum"]) == DIRECTIONS
    assert tuple(words["Experiment"]["properties"]["correction"]["anyOf"][0]["enum"]) == (
        CORRECTIONS)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_every_example_yaml_is_valid(path: Path) -> None:
    errors = [e.message for e in validator.iter_errors(load(path.read_text()))]
    assert errors == []


def test_there_are_examples_and_they_check() -> None:
    assert len(VALID) >= 3
    assert Workspace.load(REPO / "specs").errors == []


MISTAKES = {
    "misspelt section": "metrcs:\n  a: {expr: count(t)}\n",
    "misspelt key": "metrics:\n  a: {expr: count(t), lable: A}\n",
    "no expr": "metrics:\n  a: {label: A}\n",
    "metric as a scalar": "metrics:\n  a: count(t)\n",
    "unknown format": "metrics:\n  a: {expr: count(t), format: percentage}\n",
    "unknown direction": "metrics:\n  a: {expr: count(t), direction: higher}\n",
    "name with a dash": "metrics:\n  csat-2: {expr: count(t)}\n",
    "source without table or query": "sources:\n  t: {time: ts}\n",
    "variants as a list": "experiments:\n  e: {variants: [control, treatment]}\n",
    "sequential as text": "experiments:\n  e: {sequential: 'yes'}\n",
    "unknown correction": "experiments:\n  e: {correction: fdr}\n",
    "min_n as text": "monitors:\n  m: {metric: a, min_n: '200'}\n",
    "monitor without a metric": "monitors:\n  m: {every: 5 minutes}\n",
    "assignment without a source": "experiments:\n  e: {assignment: {variant: v}}\n",
    "baseline without a mean": "metrics:\n  a: {expr: count(t), baseline: {sd: 1}}\n",
    "a file that is a list": "- metrics\n",
}


@pytest.mark.parametrize("text", MISTAKES.values(), ids=MISTAKES.keys())
def test_typical_mistakes_are_invalid(text: str) -> None:
    assert list(validator.iter_errors(load(text))), text
