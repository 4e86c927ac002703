"""Experiments in YAML: the largest object, read here to keep `yaml_spec` small."""

from __future__ import annotations

from typing import Any

from metricspec import ir
from metricspec.parse.yaml_reader import YamlReader
from metricspec.parse.yaml_values import INVALID, YMap, YSeq

_ASSIGNMENT_KEYS = ("source", "variant", "where")


def read_experiment(r: YamlReader, name: str, node: YMap, span: ir.Span) -> ir.Experiment:
    """Build an `ir.Experiment` from its YAML mapping."""
    fields: dict[str, Any] = {
        "label": r.text(node, "label"), "description": r.text(node, "description"),
        "owner": r.text(node, "owner"), "unit": r.ref(node, "unit"),
        "primary": r.names(node, "primary"), "secondary": r.names(node, "secondary"),
        "segments": r.names(node, "segments"),
        "window": r.optional(node, "window", "window_fragment"),
        "mde": r.optional(node, "mde", "mde_fragment"),
        "cuped": r.optional(node, "cuped", "duration_fragment"),
        "traffic": r.optional(node, "traffic", "traffic_fragment"),
        "assignment": _assignment(r, node),
        "variants": _variants(r, node),
        "guardrails": _guardrails(r, node),
        "winsorize": _winsorize(r, node),
        "covariates": _covariates(r, node),
        "sequential": _sequential(r, node),
        "prior": read_prior(r, node),
        "stratify": r.ref(node, "stratify"),
    }
    for key in ("alpha", "power", "srm_alpha", "chance_to_win", "max_risk"):
        value = r.number(node, key)
        if value is not None:
            fields[key] = value
    for key in ("correction", "analysis"):
        word = r.text(node, key)
        if word is not None:
            fields[key] = word.lower()
    spans = r.setting_spans(node, ("label", "description", "owner", "alpha", "power",
                                   "srm_alpha", "correction", "analysis", "chance_to_win",
                                   "max_risk"))
    return ir.Experiment(span=span, name=name, setting_spans=spans,
                         **{k: v for k, v in fields.items() if v is not None})


def _assignment(r: YamlReader, node: YMap) -> ir.Assignment | None:
    raw = node.get("assignment")
    if raw is None:
        return None
    if not isinstance(raw, (YMap, YSeq)):
        # `assignment: assignments`, like the DSL's `assignment assignments`.
        source = r.ref(node, "assignment")
        return ir.Assignment(span=r.key_span(node, "assignment"), source=source) if source else None
    if not isinstance(raw, YMap):
        r.error("MS106", "`assignment` must be a mapping with `source`, `variant` and `where`",
                r.value_span(node, "assignment"))
        return None
    raw = r.known(raw, _ASSIGNMENT_KEYS, "assignment")
    source = r.ref(raw, "source")
    if source is None:
        r.error("MS106", "`assignment` needs a `source`", r.key_span(node, "assignment"))
        return None
    flt = r.optional(raw, "where", "filter_fragment")
    return ir.Assignment(span=r.key_span(node, "assignment"), source=source,
                         variant_column=r.ref(raw, "variant"), filter=flt)


def _variants(r: YamlReader, node: YMap) -> tuple[ir.Variant, ...]:
    raw = node.get("variants")
    if raw is None:
        return ()
    if not isinstance(raw, YMap):
        r.error("MS106", "`variants` must map each variant to its share, e.g. `control: 50%`",
                r.value_span(node, "variants"))
        return ()
    control = r.text(node, "control")
    variants = []
    for key in raw:
        weight = _amount(r, raw, key)
        if weight is None:
            continue
        variants.append(ir.Variant(span=r.key_span(raw, key), name=key, weight=weight,
                                   is_control=key == control))
    return tuple(variants)


def _amount(r: YamlReader, node: YMap, key: str) -> ir.Amount | None:
    value = node[key]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = r.finite(node, key, value)
        if number is None:
            return None
        return ir.Amount(span=r.value_span(node, key), value=number, kind="number")
    amount: ir.Amount | None = r.fragment(node, key, "amount_fragment")
    return amount


def _guardrails(r: YamlReader, node: YMap) -> tuple[ir.ExperimentGuardrail, ...]:
    raw = node.get("guardrails")
    if raw is None:
        return ()
    out = []
    if isinstance(raw, YSeq):
        # A bare list of metric names: margins missing, which the checker reports.
        for i, item in enumerate(raw):
            if isinstance(item, (YMap, YSeq)) or item is None:
                r.error("MS106", "`guardrails` must map each metric to its margin, "
                        "e.g. `latency_p95: max_increase 10%`", r.item_span(raw, i))
                continue
            ref = ir.Ref(span=r.item_span(raw, i), name=r.scalar_text(raw, i))
            out.append(ir.ExperimentGuardrail(span=ref.span, metric=ref))
        return tuple(out)
    if not isinstance(raw, YMap):
        r.error("MS106", "`guardrails` must map each metric to its margin, "
                "e.g. `latency_p95: max_increase 10%`", r.value_span(node, "guardrails"))
        return ()
    for key in raw:
        span = r.key_span(raw, key)
        margin = r.fragment(raw, key, "margin_fragment") if raw[key] is not None else None
        out.append(ir.ExperimentGuardrail(span=span, metric=ir.Ref(span=span, name=key),
                                          margin=margin))
    return tuple(out)


def _covariates(r: YamlReader, node: YMap) -> tuple[ir.Covariate, ...]:
    """`covariates: [pre(metric), unit.column]`, each item read with the DSL's rule."""
    raw = node.get("covariates")
    if raw is None:
        return ()
    if not isinstance(raw, YSeq):
        single = r.fragment(node, "covariates", "covariate_fragment")
        return (single,) if isinstance(single, ir.Covariate) else ()
    items = (r.fragment(raw, i, "covariate_fragment") for i in range(len(raw)))
    return tuple(c for c in items if isinstance(c, ir.Covariate))


def _winsorize(r: YamlReader, node: YMap) -> tuple[ir.Winsorize, ...]:
    raw = node.get("winsorize")
    if raw is None:
        return ()
    if not isinstance(raw, YMap):
        r.error("MS106", "`winsorize` must map metrics to a percentile, e.g. `cost: 99%`",
                r.value_span(node, "winsorize"))
        return ()
    out = []
    for key in raw:
        percentile = _amount(r, raw, key)
        if percentile is None:
            continue
        span = r.key_span(raw, key)
        out.append(ir.Winsorize(span=span, metrics=(ir.Ref(span=span, name=key),),
                                percentile=percentile))
    return tuple(out)


def _sequential(r: YamlReader, node: YMap) -> ir.Sequential | None:
    raw = node.get("sequential")
    if raw is None or raw is False or raw is INVALID:
        return None
    span = r.key_span(node, "sequential")
    if raw is True:
        return ir.Sequential(span=span)
    if isinstance(raw, YMap):
        raw = r.known(raw, ("looks", "spending"), "sequential")
        spending = r.text(raw, "spending")
        return ir.Sequential(span=span, looks=r.whole(raw, "looks"),
                             spending=spending.lower() if spending is not None else None)
    r.error("MS106", "`sequential` must be true, false or `{looks: N}`",
            r.value_span(node, "sequential"))
    return None


def read_prior(r: YamlReader, node: YMap) -> ir.Prior | None:
    """`prior: {mean: 0, sd: 0.3}` of a metric or an experiment."""
    raw = node.get("prior")
    if raw is None or raw is INVALID:
        return None
    if not isinstance(raw, YMap):
        r.error("MS106", "`prior` must be a mapping with `mean` and `sd`",
                r.value_span(node, "prior"), "e.g. `prior: {mean: 0, sd: 0.3}`")
        return None
    raw = r.known(raw, ("mean", "sd"), "prior")
    mean, sd = r.number(raw, "mean"), r.number(raw, "sd")
    if mean is None or sd is None:
        r.error("MS106", "`prior` needs a `mean` and an `sd`", r.key_span(node, "prior"),
                "e.g. `prior: {mean: 0, sd: 0.3}`")
        return None
    return ir.Prior(span=r.key_span(node, "prior"), mean=mean, sd=sd)
