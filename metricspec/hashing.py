"""Content hashes of spec objects: one of the fully resolved meaning, one of the metadata.

The meaning hash of an object covers its definition with spans and pure metadata removed,
and the definitions it depends on: a metric's covers the parts of its sources it reads
(table or query, entities, time column, the columns its aggregations and filters read) and
the meaning hashes of the metrics it refers to, transitively; a KPI tree's, guardrail's and
monitor's cover their metrics; an experiment's covers its metrics and its assignment source.
Nothing about where an object was written counts (file, order, whitespace, comments, DSL or
YAML), so a hash is the same on every machine and in every layout.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from metricspec import ir
from metricspec.filters import parse_filter
from metricspec.semantic import Index, experiment_metric_names

# Fields that describe an object without changing what it computes.
METADATA_FIELDS = frozenset({"label", "description", "owner", "tags", "format", "unit"})
# Free SQL text fields whose whitespace (outside string literals) does not matter.
_SQL_FIELDS = frozenset({"sql", "query"})
_SQL_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\s+|[^\s'\"]+")

KINDS = ("source", "metric", "kpi", "guardrail", "experiment", "monitor")


def filter_columns(flt: ir.Filter) -> tuple[str, ...]:
    """The columns a filter reads, as the filter module finds them (none when it does not
    parse: the spec has errors then, and the diff only warns)."""
    checked, _ = parse_filter(flt.sql)
    return checked.columns if checked is not None else ()


def normalize_sql(text: str) -> str:
    """SQL text with whitespace runs outside quotes collapsed to one space.

    >>> normalize_sql("  a =  'x  y'\\n AND b ")
    "a = 'x  y' AND b"
    """
    parts = [" " if token.isspace() else token for token in _SQL_TOKEN.findall(text)]
    return "".join(parts).strip()


#: Fields added to the IR after hashes were first written (an aggregate's `approximate` and
#: `semi`), left out at their defaults: definitions that do not use them keep their hashes.
_LATER_DEFAULTS: dict[str, Any] = {"approximate": False, "semi": None}


def _clean(value: Any, top: bool) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v, False) if k not in _SQL_FIELDS or not isinstance(v, str)
                else normalize_sql(v)
                for k, v in value.items() if not (top and k in METADATA_FIELDS)
                and not (k in _LATER_DEFAULTS and v == _LATER_DEFAULTS[k]
                         and value.get("kind") == "aggregate")}
    if isinstance(value, list):
        return [_clean(v, False) for v in value]
    return value


def definition(obj: ir.SpecObject | ir.Calendar) -> dict[str, Any]:
    """An object's own definition: spans and metadata removed, SQL whitespace normalised."""
    data: dict[str, Any] = _clean(ir.strip_spans(obj.model_dump(mode="json")), True)
    if data.get("version") == 1 and isinstance(obj, ir.Metric):
        del data["version"]  # the default: hashes stay those of specs written before versions
    return data


def metadata(obj: ir.SpecObject) -> dict[str, Any]:
    """An object's metadata fields (label, description, owner, tags, format, unit)."""
    data = ir.strip_spans(obj.model_dump(mode="json"))
    return {k: v for k, v in data.items() if k in METADATA_FIELDS}


def digest(data: Any) -> str:
    """The SHA-256 of `data` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ObjectHash:
    """One object's hashes and what its meaning hash was made of."""

    kind: str
    name: str
    meaning: str
    metadata: str
    own: str  # the object's own definition alone (no dependencies)
    depends_on: tuple[str, ...]  # "kind:name" of what the meaning hash covers


class Hasher:
    """The hashes of every object of one project (memoised; cycle-safe)."""

    def __init__(self, index: Index) -> None:
        self.index = index
        # The calendar cuts every period and window: a declared one is part of the meaning
        # of every metric and of what uses them (none declared: hashes as before calendars).
        self._calendar = (digest(definition(index.calendar)) if index.project.calendars
                          else None)
        self._metric: dict[str, str] = {}
        self._active: set[str] = set()

    # ------------------------------------------------------------ sources

    def source_part(self, name: str, columns: set[str] | None = None) -> dict[str, Any]:
        """What of a source a dependent reads: all of it, or only the named columns (plus
        its table or query, entities and time column)."""
        source = self.index.sources.get(name)
        if source is None:
            return {"unknown": name}
        data = definition(source)
        if columns is not None:
            data["dimensions"] = [c for c in data["dimensions"] if c["name"] in columns]
            data["columns"] = [c for c in data["columns"] if c["name"] in columns]
        return data

    def _metric_sources(self, metric: ir.Metric) -> dict[str, set[str]]:
        used: dict[str, set[str]] = {}
        for node in ir.walk(metric.expr):
            if isinstance(node, ir.Aggregate):
                cols = used.setdefault(node.source.name, set())
                if node.column:
                    cols.add(node.column.name)
                if node.filter:
                    cols.update(filter_columns(node.filter))
            elif isinstance(node, ir.Conversion):
                for events in (node.start, node.end):
                    cols = used.setdefault(events.source.name, set())
                    if events.filter:
                        cols.update(filter_columns(events.filter))
                    if node.entity:
                        cols.add(node.entity.name)
        return used

    # ------------------------------------------------------------ metrics

    def metric(self, name: str) -> str:
        """The meaning hash of a metric, through its sources and the metrics it uses."""
        if name in self._metric:
            return self._metric[name]
        metric = self.index.metrics.get(name)
        if metric is None or name in self._active:
            return digest({"unresolved": name})
        self._active.add(name)
        try:
            data = {
                "kind": "metric", "definition": definition(metric),
                "metrics": {dep: self.metric(dep) for dep in self.index.metric_deps[name]},
                "sources": {src: self.source_part(src, cols)
                            for src, cols in sorted(self._metric_sources(metric).items())},
            }
            if self._calendar is not None:
                data["calendar"] = self._calendar
        finally:
            self._active.discard(name)
        self._metric[name] = found = digest(data)
        return found

    def _metrics(self, names: list[str]) -> dict[str, str]:
        return {n: self.metric(n) for n in sorted(set(names))}

    # ------------------------------------------------------------ every kind

    def dependencies(self, kind: str, obj: ir.SpecObject) -> list[str]:
        """The "kind:name" of every object `obj` depends on directly."""
        if isinstance(obj, ir.Metric):
            deps = [f"metric:{d}" for d in self.index.metric_deps.get(obj.name, ())]
            return deps + [f"source:{s}" for s in sorted(self._metric_sources(obj))]
        return [f"metric:{n}" for n in self._referenced_metrics(obj)] + [
            f"source:{s}" for s in self._referenced_sources(obj)]

    def _referenced_metrics(self, obj: ir.SpecObject) -> list[str]:
        if isinstance(obj, ir.Kpi):
            names = [e.parent.name for e in obj.edges] + [
                d.metric.name for e in obj.edges for d in e.drivers]
            return sorted(set(names + ([obj.north_star.name] if obj.north_star else [])))
        if isinstance(obj, (ir.Guardrail, ir.Monitor)):
            return [obj.metric.name] if obj.metric else []
        if isinstance(obj, ir.Experiment):
            names = experiment_metric_names(obj) + [r.name for w in obj.winsorize
                                                     for r in w.metrics]
            return sorted(set(names))
        return []

    def _referenced_sources(self, obj: ir.SpecObject) -> list[str]:
        if isinstance(obj, ir.Experiment) and obj.assignment:
            return [obj.assignment.source.name]
        return []

    @staticmethod
    def _assignment_columns(obj: ir.SpecObject) -> set[str]:
        """The columns of its assignment source an experiment reads (besides entities and
        time): the variant column, the columns its filter reads and its segments."""
        if not isinstance(obj, ir.Experiment) or obj.assignment is None:
            return set()
        assignment = obj.assignment
        used = {r.name for r in obj.segments}
        if assignment.variant_column:
            used.add(assignment.variant_column.name)
        if assignment.filter:
            used.update(filter_columns(assignment.filter))
        return used

    def object(self, kind: str, obj: ir.SpecObject) -> ObjectHash:
        own = definition(obj)
        if isinstance(obj, ir.Metric):
            meaning = self.metric(obj.name)
        elif isinstance(obj, ir.Source):
            meaning = digest({"kind": kind, "definition": own})
        else:
            data = {
                "kind": kind, "definition": own,
                "metrics": self._metrics(self._referenced_metrics(obj)),
                "sources": {s: self.source_part(s, self._assignment_columns(obj))
                            for s in self._referenced_sources(obj)},
            }
            if self._calendar is not None:
                data["calendar"] = self._calendar
            meaning = digest(data)
        return ObjectHash(kind, obj.name, meaning, digest(metadata(obj)), digest(own),
                          tuple(self.dependencies(kind, obj)))

    def metric_parts(self, name: str) -> dict[str, str]:
        """What a metric's meaning hash is made of, by part: `definition` (its own), and
        `metric:NAME` / `source:NAME` (what it reads of each dependency), each as a hash; a
        pinned metric whose hash changed can then say through which part it changed."""
        metric = self.index.metrics[name]
        parts = {"definition": digest(definition(metric))}
        parts.update({f"metric:{dep}": self.metric(dep)
                      for dep in sorted(self.index.metric_deps[name])})
        parts.update({f"source:{src}": digest(self.source_part(src, cols))
                      for src, cols in sorted(self._metric_sources(metric).items())})
        if self._calendar is not None:
            parts["calendar"] = self._calendar
        return parts

    def all(self) -> dict[tuple[str, str], ObjectHash]:
        """Every object's hashes, by (kind, name)."""
        found: dict[tuple[str, str], ObjectHash] = {}
        for kind, table in objects(self.index).items():
            for name, obj in sorted(table.items()):
                found[(kind, name)] = self.object(kind, obj)
        return found


def objects(index: Index) -> dict[str, dict[str, ir.SpecObject]]:
    """The project's objects by kind, in the order of `KINDS`."""
    return {"source": dict(index.sources), **{k: index.objects[k] for k in KINDS[1:]}}


def project_hashes(project: ir.Project) -> dict[tuple[str, str], ObjectHash]:
    """The hashes of every object of a project."""
    return Hasher(Index(project)).all()


def field_paths(left: Any, right: Any, prefix: str = "", depth: int = 4) -> list[str]:
    """The dotted paths (at most `depth` fields deep) where two plain-data values differ;
    lists of the same length are compared item by item.

    >>> field_paths({"a": 1, "b": {"c": 2, "d": 3}}, {"a": 1, "b": {"c": 2, "d": 4}})
    ['b.d']
    >>> field_paths({"g": [{"m": 1}, {"m": 2}]}, {"g": [{"m": 1}, {"m": 3}]})
    ['g[1].m']
    """
    if left == right:
        return []
    if (depth > 0 and isinstance(left, list) and isinstance(right, list)
            and len(left) == len(right)):
        return [p for i, (a, b) in enumerate(zip(left, right, strict=True))
                for p in field_paths(a, b, f"{prefix}[{i}]", depth)]
    if depth == 0 or not (isinstance(left, dict) and isinstance(right, dict)):
        return [prefix or "definition"]
    found: list[str] = []
    for key in sorted(set(left) | set(right)):
        if key == "kind" and prefix:  # an expression's form is its own field below
            continue
        path = f"{prefix}.{key}" if prefix else key
        found += field_paths(left.get(key), right.get(key), path, depth - 1)
    return found or [prefix or "definition"]
