"""The JSON Schema of the YAML form, generated from pydantic models of its documents.

The YAML reader (`parse/yaml_spec.py`) is the authority: these models list the same keys
(`tests/workflow/test_schema.py` compares them with the reader's key table and the
checker's word lists), so editors can complete and flag keys as the reader does. Pieces of
the language (`expr`, `window`, a margin, an alert rule) are strings here; the schema checks
their place and type, `metricspec check` their meaning.

`metricspec schema` writes it; the committed copy is `schema/metricspec.schema.json`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
Name = Annotated[str, Field(pattern=NAME,
                            description="An identifier: letters, digits, underscore.")]
Names = Name | list[Name]
#: A dimension, maybe of another table reached through joins: `plan`, `users.plan`.
DimensionRef = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$",
                                    description="A dimension: its name, or a dotted "
                                    "reference through joins (`users.plan`).")]
DimensionRefs = DimensionRef | list[DimensionRef]
Text = str | int | float  # free text (YAML may read `label: 2026` as a number)
Fragment = Annotated[str, Field(description="A piece of the metricspec language.")]
Amount = Annotated[float | str, Field(description="A number, or text such as `50%`.")]
Columns = Annotated[Name | list[Name] | dict[Name, str | None],
                    Field(description="A name, a list of names, or names mapped to types "
                          "(an entity's type may end with `primary` or `foreign`).")]
Format = Literal["number", "percent", "currency", "duration", "integer"]
Direction = Literal["up", "down", "none"]
Correction = Literal["none", "bonferroni", "holm", "bh"]


class _Object(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Text | None = None
    description: Text | None = None
    owner: Text | None = None


class Source(_Object):
    """A table or a read-only query, with its entities, time column and columns."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "anyOf": [{"required": ["table"]}, {"required": ["query"]}]})

    table: str | None = Field(None, description="`schema.table`")
    query: str | None = Field(None, description="One read-only SELECT.")
    entities: Columns | None = None
    time: Columns | None = None
    dimensions: Columns | None = None
    columns: Columns | None = None
    derived: dict[Name, Fragment] | None = Field(
        None, description="Derived dimensions: names mapped to expressions over the source's "
        "columns and joined dimensions, e.g. `case when plan = 'pro' then 'paid' end`.")
    validity: str | None = Field(
        None, pattern=r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*\.\.\s*[A-Za-z_][A-Za-z0-9_]*\s*$",
        description="A slowly changing dimension's validity columns: `valid_from .. valid_to`.")
    timezone: Text | None = Field(
        None, description="The IANA zone whose wall-clock time the time column holds "
        "(default: UTC), e.g. `America/New_York`.")


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mean: float
    sd: float | None = None


class Prior(BaseModel):
    """A Gaussian prior on the relative lift (Bayesian readouts)."""

    model_config = ConfigDict(extra="forbid")

    mean: float
    sd: float = Field(gt=0)


class Metric(_Object):
    """A metric: an expression of the language, and how to show it."""

    expr: Fragment = Field(description="e.g. `count(feedback where thumbs = 'up') / "
                           "count(feedback)`")
    unit: str | None = None
    format: Format | None = None
    direction: Direction | None = None
    tags: str | list[str] | None = None
    baseline: Baseline | None = None
    version: int | None = Field(None, ge=1, description="raised when the definition of a metric "
                                "pinned by a running experiment changes (metricspec.lock)")
    prior: Prior | None = None


class Kpi(_Object):
    north_star: Name
    edges: dict[Name, Fragment] | None = Field(
        None, description="Each parent metric's composition, e.g. `product(a, b)`.")


class Guardrail(_Object):
    condition: Fragment = Field(description="e.g. `latency_p95 <= 3000`")
    every: Fragment | None = None


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Name
    variant: Name | None = None
    where: str | None = None


class Sequential(BaseModel):
    model_config = ConfigDict(extra="forbid")

    looks: int | None = None
    spending: Literal["obrien_fleming", "pocock"] | None = None


class Experiment(_Object):
    unit: Name | None = None
    assignment: Name | Assignment | None = None
    variants: dict[Name, Amount] | None = Field(None, description="e.g. `{control: 50%, "
                                                "treatment: 50%}`")
    control: Name | None = None
    window: Fragment | None = Field(None, description="e.g. `2026-10-15 .. 2026-10-28`")
    primary: Names | None = None
    secondary: Names | None = None
    guardrails: dict[Name, Fragment | None] | list[Name] | None = Field(
        None, description="Each metric's margin, e.g. `latency_p95: max_increase 10%`.")
    alpha: Amount | None = None
    power: Amount | None = None
    mde: Amount | None = None
    correction: Correction | None = None
    cuped: Fragment | None = Field(None, description="e.g. `14 days`")
    sequential: bool | Sequential | None = None
    segments: DimensionRefs | None = None
    winsorize: dict[Name, Amount] | None = None
    traffic: Amount | None = Field(None, description="e.g. `900 per day`")
    srm_alpha: Amount | None = None
    analysis: Literal["frequentist", "bayesian"] | None = None
    prior: Prior | None = None
    chance_to_win: Amount | None = None
    max_risk: Amount | None = None
    stratify: Name | None = None
    covariates: list[Fragment] | None = Field(
        None, description="e.g. `[pre(messages_sent), unit.tenure_days]`")


class Monitor(_Object):
    metric: Name
    every: Fragment | None = Field(None, description="e.g. `5 minutes`")
    baseline: Fragment | None = Field(
        None, description="e.g. `trailing 1 hour`, `offset 1 week`, `same period last week`")
    alert: Fragment | None = Field(None, description="e.g. `when below baseline by 15%`")
    min_n: int | None = None
    dimensions: DimensionRefs | None = None


class Calendar(BaseModel):
    """The project's calendar (at most one per project)."""

    model_config = ConfigDict(extra="forbid")

    timezone: Text | None = Field(None, description="an IANA zone, e.g. `Europe/Berlin`")
    week_start: Text | None = Field(None, description="a weekday, e.g. `sunday` (ISO Monday)")
    fiscal_year_start: Text | None = Field(None, description="a month, e.g. `april`")
    description: Text | None = None


class SpecFile(BaseModel):
    """A metricspec YAML file: sections of objects keyed by name."""

    model_config = ConfigDict(extra="forbid", title="metricspec YAML spec file")

    sources: dict[Name, Source] | None = None
    metrics: dict[Name, Metric] | None = None
    kpis: dict[Name, Kpi] | None = None
    guardrails: dict[Name, Guardrail] | None = None
    experiments: dict[Name, Experiment] | None = None
    monitors: dict[Name, Monitor] | None = None
    calendar: Calendar | None = None


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a YAML spec file."""
    schema = SpecFile.model_json_schema()
    _name_keys(schema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def json_schema_text() -> str:
    """The schema as the committed file holds it: sorted keys, two-space indent."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _name_keys(node: Any) -> None:
    """Mappings keyed by name (`dict[Name, …]`) refuse other keys: pydantic writes them as
    `patternProperties` and lets any other key through."""
    if isinstance(node, dict):
        if "patternProperties" in node:
            node["additionalProperties"] = False
        for value in node.values():
            _name_keys(value)
    elif isinstance(node, list):
        for value in node:
            _name_keys(value)
