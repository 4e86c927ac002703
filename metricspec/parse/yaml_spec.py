"""The YAML front end: the same model as the DSL, written as YAML.

Objects are mappings keyed by name. Values that are small pieces of the language — a
metric's `expr`, a margin like `max_increase 10%`, a duration like `5 minutes`, an alert
rule — are parsed with the DSL grammar, positioned where they sit in the YAML file, so both
front ends give the same IR and the same diagnostics. Unknown keys are errors with a
did-you-mean, never silently dropped.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from typing import Any

from metricspec import ir
from metricspec.diagnostics import Diagnostic, error
from metricspec.parse.build import MAX_WHOLE
from metricspec.parse.dsl import ParseResult, parse_fragment
from metricspec.parse.positions import ScalarMap, line_starts
from metricspec.parse.yaml_nodes import read_yaml
from metricspec.parse.yaml_spec_experiment import read_experiment
from metricspec.parse.yaml_values import INVALID, Place, YMap, YSeq

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

Container = YMap | YSeq


def parse_yaml(text: str, file: str) -> ParseResult:
    """Read a YAML spec file into IR objects and diagnostics."""
    result = ParseResult()
    text = text.removeprefix("\ufeff")
    document = read_yaml(text, file)
    result.diagnostics.extend(document.diagnostics)
    root = document.root
    if root is None:
        return _deduplicated(result)
    reader = _Reader(file, text, result)
    if not isinstance(root, YMap):
        reader.error("MS106", "a spec file must be a mapping of sections "
                     f"({', '.join(SECTIONS)})", reader.span_at(1, 1))
        return _deduplicated(result)
    root = reader.known(root, SECTIONS, "section")
    builders: dict[str, Callable[[str, Any, ir.Span], Any]] = {
        "sources": reader.source, "metrics": reader.metric, "kpis": reader.kpi,
        "guardrails": reader.guardrail, "experiments": reader.experiment,
        "monitors": reader.monitor,
    }
    for section, build in builders.items():
        objects = root.get(section)
        if objects is None:
            continue
        if not isinstance(objects, YMap):
            reader.error("MS106", f"`{section}` must be a mapping from names to definitions",
                         reader.value_span(root, section))
            continue
        for name in objects:
            span = reader.key_span(objects, name)
            body = objects[name]
            if not isinstance(body, YMap) and section != "metrics":
                reader.error("MS106", f"`{name}` must be a mapping of settings", span)
                continue
            built = build(name, body, span)
            if built is not None:
                result.objects.append(built)
    return _deduplicated(result)


def _deduplicated(result: ParseResult) -> ParseResult:
    """Drop repeats: a mapping shared through aliases is read once per alias."""
    seen: set[tuple[str, int, int, str]] = set()
    kept: list[Diagnostic] = []
    for d in result.diagnostics:
        key = (d.code, d.span.line, d.span.column, d.message)
        if key not in seen:
            seen.add(key)
            kept.append(d)
    result.diagnostics = kept
    return result


def closest(name: str, allowed: tuple[str, ...]) -> str | None:
    """The allowed key `name` is most likely a misspelling of."""
    matches = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    lowered = {a.lower(): a for a in allowed}
    return lowered.get(name.lower())


class _Reader:
    """Builds IR from position-carrying mappings, collecting diagnostics."""

    def __init__(self, file: str, text: str, result: ParseResult) -> None:
        self.file = file
        self.source_text = text
        self.line_starts = line_starts(text)
        self.result = result

    # ------------------------------------------------------------ positions and errors

    def span_at(self, line: int, column: int, width: int = 1) -> ir.Span:
        return ir.Span.point(self.file, line, column, width)

    def at(self, place: Place) -> ir.Span:
        return self.span_at(place.line, place.column, place.width)

    def name_span(self, place: Place) -> ir.Span:
        """A key's or list item's span, quotes included: a name is pointed at as a whole."""
        quoted = place.style in ('"', "'")
        return self.span_at(place.line, place.column - quoted, place.width + 2 * quoted)

    def key_span(self, node: YMap, key: str) -> ir.Span:
        return self.name_span(node.key_places[key])

    def value_span(self, node: YMap, key: str) -> ir.Span:
        return self.at(node.value_places[key])

    def item_span(self, node: YSeq, index: int) -> ir.Span:
        return self.name_span(node.item_places[index])

    def setting_spans(self, node: YMap, keys: tuple[str, ...]
                      ) -> tuple[tuple[str, ir.Span], ...]:
        """Where each of `keys` present in `node` has its value."""
        return tuple((key, self.value_span(node, key)) for key in keys if key in node)

    def error(self, code: str, message: str, span: ir.Span, hint: str | None = None) -> None:
        self.result.diagnostics.append(error(code, message, span, hint))

    def known(self, node: YMap, allowed: tuple[str, ...], kind: str) -> YMap:
        """Report keys that are not in `allowed` (MS105). A misspelt key whose right
        spelling is absent is read as that key, so one typo is one error: the object is
        not also reported as missing the setting."""
        for key in list(node):
            if key in allowed:
                continue
            guess = closest(key, allowed)
            hint = (f"did you mean `{guess}`?" if guess else
                    f"known keys: {', '.join(allowed)}")
            self.error("MS105", f"unknown {kind} key `{_shown(key)}`", self.key_span(node, key),
                       hint)
            if guess is not None and guess not in node:
                node = node.copy_with(key, guess)
        return node

    # ------------------------------------------------------------ typed getters

    def scalar_text(self, node: Container, key: Any) -> str:
        """A scalar as it was written (`1.10` stays `1.10`, `true` stays `true`)."""
        place = node.value_places[key] if isinstance(node, YMap) else node.item_places[key]
        return place.text if place.text is not None else str(node[key])

    def text(self, node: YMap, key: str) -> str | None:
        value = node.get(key)
        if value is None or value is INVALID:
            return None
        if isinstance(value, (YMap, YSeq)):
            self.error("MS106", f"`{key}` must be text", self.value_span(node, key))
            return None
        return self.scalar_text(node, key)

    def number(self, node: YMap, key: str) -> float | None:
        value = node.get(key)
        if value is None or value is INVALID:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            amount = self.fragment(node, key, "amount_fragment")
            return amount.fraction if amount is not None else None
        return self.finite(node, key, value)

    def finite(self, node: YMap, key: str, value: float) -> float | None:
        """A YAML number as a float; infinities, NaN and numbers too large are MS107."""
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            self.error("MS107", f"`{key}` must be a finite number, not "
                       f"`{_shown(self.scalar_text(node, key))}`", self.value_span(node, key))
            return None
        return number

    def whole(self, node: YMap, key: str) -> int | None:
        """A whole number setting (`min_n`, `looks`)."""
        value = node.get(key)
        if value is None or value is INVALID:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error("MS106", f"`{key}` must be a whole number", self.value_span(node, key))
            return None
        if abs(value) > MAX_WHOLE:
            self.error("MS107", f"`{key}` is too large", self.value_span(node, key))
            return None
        return value

    def names(self, node: YMap, key: str) -> tuple[ir.Ref, ...]:
        """A list of names, or a single name."""
        value = node.get(key)
        if value is None or value is INVALID:
            return ()
        if isinstance(value, YSeq):
            refs = []
            for i, item in enumerate(value):
                if item is INVALID:
                    continue
                if isinstance(item, (YMap, YSeq)) or item is None:
                    self.error("MS106", f"`{key}` must list names", self.item_span(value, i))
                    continue
                refs.append(ir.Ref(span=self.item_span(value, i),
                                   name=self.scalar_text(value, i)))
            return tuple(refs)
        if isinstance(value, YMap):
            self.error("MS106", f"`{key}` must be a name or a list of names",
                       self.value_span(node, key))
            return ()
        return (ir.Ref(span=self.value_span(node, key), name=self.scalar_text(node, key)),)

    def ref(self, node: YMap, key: str) -> ir.Ref | None:
        refs = self.names(node, key)
        if len(refs) > 1:
            self.error("MS106", f"`{key}` takes one name", refs[1].span)
        return refs[0] if refs else None

    def fragment(self, node: Container, key: Any, rule: str, prefix: str = "") -> Any:
        """Parse the scalar at `key` with a fragment rule of the DSL grammar.

        An optional leading word `prefix` (the DSL's `trailing` in `baseline trailing 1 hour`)
        is accepted and skipped.
        """
        value = node[key]
        place = node.value_places[key] if isinstance(node, YMap) else node.item_places[key]
        if value is INVALID:
            return None
        if isinstance(value, (YMap, YSeq)) or value is None:
            self.error("MS106", f"`{_shown(str(key))}` must be a single value", self.at(place))
            return None
        text = self.scalar_text(node, key)
        quote = place.style if place.style in ('"', "'") else None
        if place.style in ("|", ">"):
            # The value is read from the line after the `|` or `>` indicator.
            start = self.line_starts[min(place.line, len(self.line_starts) - 1)]
        else:
            start = place.index
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

    def source(self, name: str, node: YMap, span: ir.Span) -> ir.Source:
        node = self.known(node, _KEYS["source"], "source")
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

    def columns(self, node: YMap, key: str) -> tuple[ir.Column, ...]:
        """Columns as a name, a list of names, or a mapping of names to types."""
        value = node.get(key)
        if value is None:
            return ()
        if not isinstance(value, YMap):
            return tuple(ir.Column(span=r.span, name=r.name) for r in self.names(node, key))
        out = []
        for column, kind in value.items():
            if isinstance(kind, (YMap, YSeq)):
                self.error("MS106", f"the type of column `{_shown(column)}` must be a word, "
                           "e.g. `number`", self.value_span(value, column))
                kind = None
            kind = None if kind is INVALID else kind
            out.append(ir.Column(
                span=self.key_span(value, column), name=column,
                type=self.scalar_text(value, column).lower() if kind is not None else None,
                type_span=self.value_span(value, column) if kind is not None else None))
        return tuple(out)

    def metric(self, name: str, node: Any, span: ir.Span) -> ir.Metric | None:
        if not isinstance(node, YMap):
            scalar = node is not None and not isinstance(node, YSeq)
            self.error("MS106", f"metric `{name}` must be a mapping with an `expr`", span,
                       f"write `{name}: {{expr: {_shown(str(node))}}}`" if scalar else
                       f"write `{name}: {{expr: count(source)}}`")
            return None
        node = self.known(node, _KEYS["metric"], "metric")
        if "expr" not in node:
            self.error("MS106", f"metric `{name}` needs an `expr`", span,
                       "add e.g. `expr: count(source)`")
            return None
        expr = self.fragment(node, "expr", "expr_fragment")
        if expr is None:
            return None
        baseline = None
        raw_baseline = node.get("baseline")
        if isinstance(raw_baseline, YMap):
            b = self.known(raw_baseline, _KEYS["baseline"], "baseline")
            mean = self.number(b, "mean")
            if mean is not None:
                baseline = ir.Baseline(span=self.key_span(node, "baseline"), mean=mean,
                                       sd=self.number(b, "sd"))
        elif raw_baseline is not None:
            self.error("MS106", "`baseline` must be a mapping with `mean` and `sd`",
                       self.value_span(node, "baseline"), "e.g. `baseline: {mean: 0.3, sd: 0.1}`")
        unit = self.fragment(node, "unit", "unit_fragment") if "unit" in node else None
        return ir.Metric(
            span=span, name=name, expr=expr, label=self.text(node, "label"),
            description=self.text(node, "description"), owner=self.text(node, "owner"),
            unit=unit, format=self.text(node, "format"), direction=self.text(node, "direction"),
            tags=tuple(r.name for r in self.names(node, "tags")), baseline=baseline,
            setting_spans=self.setting_spans(node, _KEYS["metric"][1:]))

    def kpi(self, name: str, node: YMap, span: ir.Span) -> ir.Kpi:
        node = self.known(node, _KEYS["kpi"], "KPI")
        edges: list[ir.KpiEdge] = []
        raw = node.get("edges")
        if isinstance(raw, YMap):
            for parent in raw:
                built = self.fragment(raw, parent, "composition_fragment")
                if built is None:
                    continue
                composition, drivers = built
                parent_span = self.key_span(raw, parent)
                edges.append(ir.KpiEdge(
                    span=parent_span, parent=ir.Ref(span=parent_span, name=parent),
                    composition=composition, drivers=tuple(drivers)))
        elif raw is not None:
            self.error("MS106", "`edges` must map each parent metric to its composition",
                       self.value_span(node, "edges"),
                       "e.g. `cost: product(queries, cost_per_query)`")
        return ir.Kpi(span=span, name=name, label=self.text(node, "label"),
                      description=self.text(node, "description"), owner=self.text(node, "owner"),
                      north_star=self.ref(node, "north_star"), edges=tuple(edges))

    def guardrail(self, name: str, node: YMap, span: ir.Span) -> ir.Guardrail | None:
        node = self.known(node, _KEYS["guardrail"], "guardrail")
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

    def experiment(self, name: str, node: YMap, span: ir.Span) -> ir.Experiment:
        node = self.known(node, _KEYS["experiment"], "experiment")
        return read_experiment(self, name, node, span)

    def monitor(self, name: str, node: YMap, span: ir.Span) -> ir.Monitor:
        node = self.known(node, _KEYS["monitor"], "monitor")
        return ir.Monitor(
            span=span, name=name, label=self.text(node, "label"),
            description=self.text(node, "description"), owner=self.text(node, "owner"),
            metric=self.ref(node, "metric"),
            every=self.optional(node, "every", "duration_fragment"),
            baseline=self.optional(node, "baseline", "duration_fragment", prefix="trailing"),
            alert=self.optional(node, "alert", "alert_fragment"), min_n=self.whole(node, "min_n"),
            dimensions=self.names(node, "dimensions"),
            setting_spans=self.setting_spans(node, ("min_n", "label", "description", "owner")))

    def optional(self, node: YMap, key: str, rule: str, prefix: str = "") -> Any:
        return self.fragment(node, key, rule, prefix) if key in node else None


def _shown(text: str, limit: int = 60) -> str:
    """A key or value for a message: one line, at most `limit` characters."""
    one = text.replace("\n", " ")
    return one if len(one) <= limit else one[:limit - 1] + "…"
