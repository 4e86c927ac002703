"""The YAML front end: the same model as the DSL, written as YAML.

Objects are mappings keyed by name. Values that are small pieces of the language — a
metric's `expr`, a margin like `max_increase 10%`, a duration like `5 minutes`, an alert
rule — are parsed with the DSL grammar, positioned where they sit in the YAML file, so both
front ends give the same IR and the same diagnostics. Unknown keys are errors with a
did-you-mean, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from metricspec import ir
from metricspec.diagnostics import did_you_mean, error
from metricspec.parse.dsl import ParseResult, parse_fragment
from metricspec.parse.positions import ScalarMap
from metricspec.parse.yaml_spec_experiment import read_experiment

SECTIONS = ("sources", "metrics", "kpis", "guardrails", "experiments", "monitors")

_KEYS: dict[str, tuple[str, ...]] = {
    "source": ("table", "query", "label", "description", "owner", "entities", "time",
               "dimensions", "columns"),
    "metric": ("expr", "label", "description", "owner", "unit", "format", "direction", "tags",
               "baseline"),
    "baseline": ("mean", "sd"),
    "kpi": ("north_star", "label", "description", "owner", "edges"),
    "guardrail": ("condition", "every", "label", "description", "owner"),
    "experiment": ("label", "description", "owner", "unit", "assignment", "variants",
                   "control", "window", "primary", "secondary", "guardrails", "alpha", "power",
                   "mde", "correction", "cuped", "sequential", "segments", "winsorize",
                   "traffic", "srm_alpha"),
    "assignment": ("source", "variant", "where"),
    "monitor": ("metric", "every", "baseline", "alert", "min_n", "dimensions", "label",
                "description", "owner"),
}


class _Constructor(RoundTripConstructor):
    """ruamel's round-trip constructor, except that dates stay text: the DSL grammar reads
    them (so `2026-13-01` is a diagnostic at its place, not a crash in the YAML loader)."""

    def construct_yaml_str_timestamp(self, node: ScalarNode) -> Any:
        return self.construct_yaml_str(node)


_Constructor.add_constructor("tag:yaml.org,2002:timestamp",
                             _Constructor.construct_yaml_str_timestamp)


def parse_yaml(text: str, file: str) -> ParseResult:
    """Read a YAML spec file into IR objects and diagnostics."""
    result = ParseResult()
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.preserve_quotes = True
    try:
        document = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        hint = None
        if exc.context and exc.context_mark and exc.problem_mark and (
                exc.context_mark.line, exc.context_mark.column) != (
                exc.problem_mark.line, exc.problem_mark.column):
            hint = (f"{exc.context}, which starts at line {exc.context_mark.line + 1}, "
                    f"column {exc.context_mark.column + 1}")
        result.diagnostics.append(error("MS104", f"invalid YAML: {problem}",
                                        ir.Span.point(file, line, column), hint))
        return result
    except RecursionError:
        result.diagnostics.append(error("MS110", "this YAML nests too deeply to read",
                                        ir.Span.point(file, 1, 1),
                                        "flatten the nested lists and mappings"))
        return result
    except (YAMLError, ValueError, TypeError) as exc:
        # ruamel raises plain Python errors for a few malformed documents (deep nesting,
        # values its constructors reject); they are still spec errors, not crashes.
        detail = str(exc).strip().split("\n")[0] or type(exc).__name__
        result.diagnostics.append(error("MS104", f"invalid YAML: {detail}",
                                        ir.Span.point(file, 1, 1)))
        return result
    if document is None:
        return result
    reader = _Reader(file, text, result)
    if not isinstance(document, CommentedMap):
        reader.error("MS106", "a spec file must be a mapping of sections "
                     f"({', '.join(SECTIONS)})", reader.span_at(1, 1))
        return result
    reader.unknown_keys(document, SECTIONS, "section")
    builders: dict[str, Callable[[str, Any, ir.Span], Any]] = {
        "sources": reader.source, "metrics": reader.metric, "kpis": reader.kpi,
        "guardrails": reader.guardrail, "experiments": reader.experiment,
        "monitors": reader.monitor,
    }
    for section, build in builders.items():
        objects = document.get(section)
        if objects is None:
            continue
        if not isinstance(objects, CommentedMap):
            reader.error("MS106", f"`{section}` must be a mapping from names to definitions",
                         reader.value_span(document, section))
            continue
        for name in objects:
            span = reader.key_span(objects, name)
            body = objects[name]
            if not isinstance(body, CommentedMap) and section != "metrics":
                reader.error("MS106", f"`{name}` must be a mapping of settings", span)
                continue
            built = build(str(name), body, span)
            if built is not None:
                result.objects.append(built)
    return result


class _Reader:
    """Builds IR from ruamel's position-carrying mappings, collecting diagnostics."""

    def __init__(self, file: str, text: str, result: ParseResult) -> None:
        self.file = file
        self.source_text = text
        self.lines = text.split("\n")
        self.line_starts = [0]
        for line in self.lines:
            self.line_starts.append(self.line_starts[-1] + len(line) + 1)
        self.result = result

    # ------------------------------------------------------------ positions and errors

    def span_at(self, line: int, column: int, width: int = 1) -> ir.Span:
        return ir.Span.point(self.file, line, column, width)

    def key_span(self, node: CommentedMap, key: Any) -> ir.Span:
        line, column = node.lc.key(key)
        return self.span_at(line + 1, column + 1, len(str(key)))

    def value_span(self, node: CommentedMap, key: Any) -> ir.Span:
        line, column = node.lc.value(key)
        skip = 1 if _quote_of(node[key]) else 0  # point inside the quotes
        return self.span_at(line + 1, column + 1 + skip, max(1, len(str(node[key]))))

    def item_span(self, node: CommentedSeq, index: int) -> ir.Span:
        line, column = node.lc.item(index)
        return self.span_at(line + 1, column + 1, max(1, len(str(node[index]))))

    def setting_spans(self, node: CommentedMap, keys: tuple[str, ...]
                      ) -> tuple[tuple[str, ir.Span], ...]:
        """Where each of `keys` present in `node` has its value."""
        return tuple((key, self.value_span(node, key)) for key in keys if key in node)

    def error(self, code: str, message: str, span: ir.Span, hint: str | None = None) -> None:
        self.result.diagnostics.append(error(code, message, span, hint))

    def unknown_keys(self, node: CommentedMap, allowed: tuple[str, ...], kind: str) -> None:
        for key in node:
            if str(key) not in allowed:
                hint = did_you_mean(str(key), allowed) or f"known keys: {', '.join(allowed)}"
                self.error("MS105", f"unknown {kind} key `{key}`", self.key_span(node, key),
                           hint)

    # ------------------------------------------------------------ typed getters

    def text(self, node: CommentedMap, key: str) -> str | None:
        value = node.get(key)
        if value is None:
            return None
        if isinstance(value, (CommentedMap, CommentedSeq)):
            self.error("MS106", f"`{key}` must be text", self.value_span(node, key))
            return None
        return str(value)

    def number(self, node: CommentedMap, key: str) -> float | None:
        value = node.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            amount = self.fragment(node, key, "amount_fragment")
            return amount.fraction if amount is not None else None
        return float(value)

    def names(self, node: CommentedMap, key: str) -> tuple[ir.Ref, ...]:
        """A list of names, or a single name."""
        value = node.get(key)
        if value is None:
            return ()
        if isinstance(value, CommentedSeq):
            refs = []
            for i, item in enumerate(value):
                if isinstance(item, (CommentedMap, CommentedSeq)):
                    self.error("MS106", f"`{key}` must list names", self.item_span(value, i))
                    continue
                refs.append(ir.Ref(span=self.item_span(value, i), name=str(item)))
            return tuple(refs)
        if isinstance(value, CommentedMap):
            self.error("MS106", f"`{key}` must be a name or a list of names",
                       self.value_span(node, key))
            return ()
        return (ir.Ref(span=self.value_span(node, key), name=str(value)),)

    def ref(self, node: CommentedMap, key: str) -> ir.Ref | None:
        refs = self.names(node, key)
        if len(refs) > 1:
            self.error("MS106", f"`{key}` takes one name", refs[1].span)
        return refs[0] if refs else None

    def fragment(self, node: CommentedMap | CommentedSeq, key: Any, rule: str,
                 prefix: str = "") -> Any:
        """Parse the scalar at `key` with a fragment rule of the DSL grammar.

        An optional leading word `prefix` (the DSL's `trailing` in `baseline trailing 1 hour`)
        is accepted and skipped.
        """
        value = node[key]
        if isinstance(value, (CommentedMap, CommentedSeq)) or value is None:
            span = (self.value_span(node, key) if isinstance(node, CommentedMap)
                    else self.item_span(node, key))
            self.error("MS106", f"`{key}` must be a single value", span)
            return None
        line, column = (node.lc.value(key) if isinstance(node, CommentedMap)
                        else node.lc.item(key))
        text = _scalar_text(value)
        quote = _quote_of(value)
        if isinstance(value, (LiteralScalarString, FoldedScalarString)):
            # The value is read from the line after the `|` or `>` indicator.
            start = self.line_starts[min(line + 1, len(self.lines) - 1)]
        else:
            start = self.line_starts[min(line, len(self.lines) - 1)] + column
            start += 1 if quote else 0
        scalar = ScalarMap(self.source_text, start, text, quote)
        if prefix and text.lstrip().startswith(prefix + " "):
            skipped = len(text) - len(text.lstrip()[len(prefix):].lstrip())
            scalar = scalar.shifted(skipped)
            text = text[skipped:]
        line, column = scalar.position(0)
        node_value, diagnostics = parse_fragment(text, rule, self.file, line, column,
                                                 scalar=scalar)
        self.result.diagnostics.extend(diagnostics)
        return node_value

    # ------------------------------------------------------------ objects

    def source(self, name: str, node: CommentedMap, span: ir.Span) -> ir.Source:
        self.unknown_keys(node, _KEYS["source"], "source")
        table = self.text(node, "table")
        query = self.text(node, "query")
        if table is None and query is None:
            self.error("MS106", f"source `{name}` needs `table` or `query`", span)
        time_cols = self.columns(node, "time")
        return ir.Source(
            span=span, name=name, label=self.text(node, "label"),
            description=self.text(node, "description"), owner=self.text(node, "owner"),
            table=tuple(table.split(".")) if table else None, query=query,
            entities=self.columns(node, "entities"), time=time_cols[0] if time_cols else None,
            dimensions=self.columns(node, "dimensions"), columns=self.columns(node, "columns"))

    def columns(self, node: CommentedMap, key: str) -> tuple[ir.Column, ...]:
        """Columns as a name, a list of names, or a mapping of names to types."""
        value = node.get(key)
        if value is None:
            return ()
        if isinstance(value, CommentedMap):
            return tuple(ir.Column(span=self.key_span(value, k), name=str(k),
                                   type=str(t).lower() if t is not None else None,
                                   type_span=self.value_span(value, k) if t is not None
                                   else None)
                         for k, t in value.items())
        return tuple(ir.Column(span=r.span, name=r.name) for r in self.names(node, key))

    def metric(self, name: str, node: Any, span: ir.Span) -> ir.Metric | None:
        if not isinstance(node, CommentedMap):
            self.error("MS106", f"metric `{name}` must be a mapping with an `expr`", span,
                       f"write `{name}: {{expr: {node}}}`")
            return None
        self.unknown_keys(node, _KEYS["metric"], "metric")
        if "expr" not in node:
            self.error("MS106", f"metric `{name}` needs an `expr`", span,
                       "add e.g. `expr: count(source)`")
            return None
        expr = self.fragment(node, "expr", "expr_fragment")
        if expr is None:
            return None
        baseline = None
        if isinstance(node.get("baseline"), CommentedMap):
            b = node["baseline"]
            self.unknown_keys(b, _KEYS["baseline"], "baseline")
            mean = self.number(b, "mean")
            if mean is not None:
                baseline = ir.Baseline(span=self.key_span(node, "baseline"), mean=mean,
                                       sd=self.number(b, "sd"))
        unit = self.fragment(node, "unit", "unit_fragment") if "unit" in node else None
        return ir.Metric(
            span=span, name=name, expr=expr, label=self.text(node, "label"),
            description=self.text(node, "description"), owner=self.text(node, "owner"),
            unit=unit, format=self.text(node, "format"), direction=self.text(node, "direction"),
            tags=tuple(r.name for r in self.names(node, "tags")), baseline=baseline,
            setting_spans=self.setting_spans(node, _KEYS["metric"][1:]))

    def kpi(self, name: str, node: CommentedMap, span: ir.Span) -> ir.Kpi:
        self.unknown_keys(node, _KEYS["kpi"], "KPI")
        edges: list[ir.KpiEdge] = []
        raw = node.get("edges")
        if isinstance(raw, CommentedMap):
            for parent in raw:
                built = self.fragment(raw, parent, "composition_fragment")
                if built is None:
                    continue
                composition, drivers = built
                parent_span = self.key_span(raw, parent)
                edges.append(ir.KpiEdge(
                    span=parent_span, parent=ir.Ref(span=parent_span, name=str(parent)),
                    composition=composition, drivers=tuple(drivers)))
        elif raw is not None:
            self.error("MS106", "`edges` must map each parent metric to its composition",
                       self.value_span(node, "edges"),
                       "e.g. `cost: product(queries, cost_per_query)`")
        return ir.Kpi(span=span, name=name, label=self.text(node, "label"),
                      description=self.text(node, "description"), owner=self.text(node, "owner"),
                      north_star=self.ref(node, "north_star"), edges=tuple(edges))

    def guardrail(self, name: str, node: CommentedMap, span: ir.Span) -> ir.Guardrail | None:
        self.unknown_keys(node, _KEYS["guardrail"], "guardrail")
        if "condition" not in node:
            self.error("MS106", f"guardrail `{name}` needs a `condition`", span,
                       "e.g. `condition: latency_p95 <= 3000`")
            return None
        condition = self.fragment(node, "condition", "condition_fragment")
        if condition is None:
            return None
        metric, comparator, amount = condition
        every = self.fragment(node, "every", "duration_fragment") if "every" in node else None
        return ir.Guardrail(span=span, name=name, metric=metric, comparator=comparator,
                            threshold=amount, every=every, label=self.text(node, "label"),
                            description=self.text(node, "description"),
                            owner=self.text(node, "owner"))

    def experiment(self, name: str, node: CommentedMap, span: ir.Span) -> ir.Experiment:
        self.unknown_keys(node, _KEYS["experiment"], "experiment")
        return read_experiment(self, name, node, span)

    def monitor(self, name: str, node: CommentedMap, span: ir.Span) -> ir.Monitor:
        self.unknown_keys(node, _KEYS["monitor"], "monitor")
        min_n = node.get("min_n")
        if min_n is not None and (isinstance(min_n, bool) or not isinstance(min_n, int)):
            self.error("MS106", "`min_n` must be a whole number", self.value_span(node, "min_n"))
            min_n = None
        return ir.Monitor(
            span=span, name=name, label=self.text(node, "label"),
            description=self.text(node, "description"), owner=self.text(node, "owner"),
            metric=self.ref(node, "metric"),
            every=self.optional(node, "every", "duration_fragment"),
            baseline=self.optional(node, "baseline", "duration_fragment", prefix="trailing"),
            alert=self.optional(node, "alert", "alert_fragment"), min_n=min_n,
            dimensions=self.names(node, "dimensions"),
            setting_spans=self.setting_spans(node, ("min_n", "label", "description", "owner")))

    def optional(self, node: CommentedMap, key: str, rule: str, prefix: str = "") -> Any:
        return self.fragment(node, key, rule, prefix) if key in node else None


def _quote_of(value: Any) -> str | None:
    """The quote character of a quoted scalar, None for plain and block scalars."""
    name = type(value).__name__
    if name == "DoubleQuotedScalarString":
        return '"'
    if name == "SingleQuotedScalarString":
        return "'"
    return None


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
