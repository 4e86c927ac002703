"""The YAML front end: the same model as the DSL, written as YAML.

Objects are mappings keyed by name. Values that are small pieces of the language — a
metric's `expr`, a margin like `max_increase 10%`, a duration like `5 minutes`, an alert
rule — are parsed with the DSL grammar, positioned where they sit in the YAML file, so both
front ends give the same IR and the same diagnostics. Unknown keys are errors with a
did-you-mean, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from metricspec import ir
from metricspec.diagnostics import Diagnostic
from metricspec.parse.result import ParseResult
from metricspec.parse.yaml_nodes import read_yaml
from metricspec.parse.yaml_reader import YamlReader, shown
from metricspec.parse.yaml_spec_experiment import read_experiment, read_prior
from metricspec.parse.yaml_values import INVALID, YMap, YSeq

SECTIONS = ("sources", "metrics", "kpis", "guardrails", "experiments", "monitors", "calendar")

_KEYS: dict[str, tuple[str, ...]] = {
    "source": ("table", "query", "label", "description", "owner", "entities", "time",
               "dimensions", "columns", "derived", "validity", "timezone"),
    "metric": ("expr", "label", "description", "owner", "unit", "format", "direction", "tags",
               "baseline", "version", "prior"),
    "baseline": ("mean", "sd"),
    "prior": ("mean", "sd"),
    "kpi": ("north_star", "label", "description", "owner", "edges"),
    "guardrail": ("condition", "every", "label", "description", "owner"),
    "experiment": ("label", "description", "owner", "unit", "assignment", "variants",
                   "control", "window", "primary", "secondary", "guardrails", "alpha", "power",
                   "mde", "correction", "cuped", "sequential", "segments", "winsorize",
                   "covariates", "traffic", "srm_alpha", "analysis", "prior", "chance_to_win",
                   "max_risk", "stratify"),
    "assignment": ("source", "variant", "where"),
    "monitor": ("metric", "every", "baseline", "alert", "min_n", "dimensions", "label",
                "description", "owner"),
    "calendar": ("timezone", "week_start", "fiscal_year_start", "description"),
}



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
    calendar = root.get("calendar")
    if calendar is not None:  # one mapping of settings, not named objects
        span = reader.key_span(root, "calendar")
        if isinstance(calendar, YMap):
            result.objects.append(reader.calendar(calendar, span))
        else:
            reader.error("MS106", "`calendar` must be a mapping of settings "
                         "(timezone, week_start, fiscal_year_start)", span)
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


class _Reader(YamlReader):
    """Builds each kind of object from its mapping."""

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
            entities=tuple(entity_role(c) for c in self.columns(node, "entities")),
            time=time_cols[0] if time_cols else None,
            dimensions=self.columns(node, "dimensions"), columns=self.columns(node, "columns"),
            derived=self.derived(node), **self.validity(node),
            timezone=self.text(node, "timezone"),
            timezone_span=self.value_span(node, "timezone") if "timezone" in node else None)

    def derived(self, node: YMap) -> tuple[ir.DerivedDimension, ...]:
        """`derived: {tenure: "case when … end"}`: expressions of the filter grammar."""
        value = node.get("derived")
        if value is None:
            return ()
        if not isinstance(value, YMap):
            self.error("MS106", "`derived` maps dimension names to expressions",
                       self.value_span(node, "derived"))
            return ()
        out = []
        for name in value:
            flt = self.optional(value, name, "filter_fragment")
            if flt is not None:
                out.append(ir.DerivedDimension(span=self.key_span(value, name), name=name,
                                               expr=flt))
        return tuple(out)

    def validity(self, node: YMap) -> dict[str, ir.Column]:
        """`validity: valid_from .. valid_to`: the columns of a slowly changing dimension."""
        if node.get("validity") is None:
            return {}
        text = self.scalar_text(node, "validity")
        names = [n.strip() for n in text.split("..")] if text else []
        span = self.value_span(node, "validity")
        if len(names) != 2 or not all(n.isidentifier() for n in names):
            self.error("MS106", "`validity` is `valid_from_column .. valid_to_column`", span)
            return {}
        return {"valid_from": ir.Column(span=span, name=names[0], type="timestamp"),
                "valid_to": ir.Column(span=span, name=names[1], type="timestamp")}

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
                self.error("MS106", f"the type of column `{shown(column)}` must be a word, "
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
                       f"write `{name}: {{expr: {shown(str(node))}}}`" if scalar else
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
            version=_version(self.whole(node, "version")),
            prior=read_prior(self, node),
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
            **_baseline(self.optional(node, "baseline", "baseline_fragment")),
            alert=self.optional(node, "alert", "alert_fragment"), min_n=self.whole(node, "min_n"),
            dimensions=self.names(node, "dimensions"),
            setting_spans=self.setting_spans(node, ("min_n", "label", "description", "owner")))


    def calendar(self, node: YMap, span: ir.Span) -> ir.Calendar:
        node = self.known(node, _KEYS["calendar"], "calendar setting")
        words = {key: self.text(node, key) for key in ("week_start", "fiscal_year_start")}
        return ir.Calendar(
            span=span, timezone=self.text(node, "timezone"),
            week_start=words["week_start"] and words["week_start"].lower(),
            fiscal_year_start=words["fiscal_year_start"] and words["fiscal_year_start"].lower(),
            description=self.text(node, "description"),
            setting_spans=self.setting_spans(node, _KEYS["calendar"]))


def _baseline(value: Any) -> dict[str, Any]:
    """A monitor's `baseline`: `trailing 1 hour` (or `1 hour`), or `offset 1 week`."""
    if isinstance(value, ir.PeriodOffset):
        return {"baseline_offset": value}
    return {"baseline": value}


def _version(value: int | None) -> int:
    """A metric's `version` (1 when not given)."""
    return 1 if value is None else value


def entity_role(column: ir.Column) -> ir.Column:
    """`user_id: string primary` (or `user_id: primary`): the role is the type's last word."""
    words = (column.type or "").split()
    if not words or words[-1] not in ("primary", "foreign"):
        return column
    return column.model_copy(update={"role": words[-1], "type": " ".join(words[:-1]) or None,
                                     "type_span": column.type_span if len(words) > 1 else None})
