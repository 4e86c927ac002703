"""Experiment blocks: assignment, variants, window, metrics, margins and the analysis settings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from lark import Token
from lark.tree import Meta

from metricspec import ir
from metricspec.parse.build_base import BuilderBase, Item, flat


class ExperimentRules(BuilderBase):
    """Experiment blocks (the rules the `SETTINGS` table does not read)."""

    def experiment(self, meta: Meta, children: list[Any]) -> ir.Experiment:
        name = children[0]
        items = [c for c in children[1:] if isinstance(c, Item)]
        s = self._settings(items, "experiment")
        fields: dict[str, Any] = {
            key: s[key] for key in (
                "label", "description", "owner", "unit", "assignment", "window", "alpha",
                "power", "mde", "correction", "cuped", "sequential", "traffic", "srm_alpha",
                "analysis", "prior", "chance_to_win", "max_risk", "stratify")
            if key in s
        }
        fields["variants"] = s.get("variants", ())
        for key in ("primary", "secondary", "segments"):
            fields[key] = flat(s.get(key, []))
        fields["guardrails"] = tuple(s.get("guardrail", []))
        fields["winsorize"] = tuple(s.get("winsorize", []))
        fields["covariates"] = tuple(c for item in s.get("covariates", []) for c in item)
        return ir.Experiment(span=self.span_of(name), name=str(name),
                             setting_spans=self._setting_spans(items), **fields)

    def experiment_item(self, meta: Meta, children: list[Any]) -> None:
        return None

    def assignment(self, meta: Meta, children: list[Any]) -> Item:
        tokens = [c for c in children if isinstance(c, Token)]
        flt = next((c for c in children if isinstance(c, ir.Filter)), None)
        value = ir.Assignment(
            span=self.span_of(meta), source=self._ref(tokens[0]),
            variant_column=self._ref(tokens[1]) if len(tokens) > 1 else None, filter=flt)
        return Item("assignment", value, self.span_of(meta))

    def variant(self, meta: Meta, children: list[Any]) -> ir.Variant:
        return ir.Variant(span=self.span_of(meta), name=str(children[0]), weight=children[1],
                          is_control=len(children) > 2)

    def window(self, meta: Meta, children: list[Token]) -> Item:
        start, _start_is_date = self._date(children[0])
        end, end_is_date = self._date(children[1])
        value = ir.AnalysisWindow(span=self.span_of(meta), start=start, end=end,
                                  end_is_date=end_is_date)
        return Item("window", value, self.span_of(meta))

    def _date(self, token: Token) -> tuple[dt.datetime, bool]:
        text = str(token)
        try:
            return dt.datetime.fromisoformat(text), "T" not in text
        except ValueError:
            self._error("MS107", f"`{text}` is not a valid date", token,
                        "write dates as YYYY-MM-DD or YYYY-MM-DDTHH:MM")
            return dt.datetime(1970, 1, 1), True

    def experiment_guardrail(self, meta: Meta, children: list[Any]) -> Item:
        margin = children[1] if len(children) > 1 else None
        value = ir.ExperimentGuardrail(span=self.span_of(meta), metric=self._ref(children[0]),
                                       margin=margin)
        return Item("guardrail", value, self.span_of(meta))

    def margin(self, meta: Meta, children: list[Any]) -> ir.Margin:
        return ir.Margin(span=self.span_of(meta), kind=str(children[0]),
                         amount=children[1])

    def margin_fragment(self, meta: Meta, children: list[ir.Margin]) -> ir.Margin:
        return children[0]

    def mde(self, meta: Meta, children: list[Any]) -> Item:
        amount: ir.Amount = children[0]
        kind = str(children[1]) if len(children) > 1 else None
        relative = kind == "relative" or (kind is None and amount.kind == "percent")
        value = ir.Mde(span=self.span_of(meta), amount=amount, relative=relative)
        return Item("mde", value, self.span_of(meta))

    def sequential(self, meta: Meta, children: list[Token]) -> Item:
        looks = self._whole(children[0], "the number of looks") if children else None
        spending = str(children[1]).lower() if len(children) > 1 else None
        value = ir.Sequential(span=self.span_of(meta), looks=looks, spending=spending)
        return Item("sequential", value, self.span_of(meta))

    def winsorize(self, meta: Meta, children: list[Any]) -> Item:
        value = ir.Winsorize(span=self.span_of(meta), metrics=children[0],
                             percentile=children[1])
        return Item("winsorize", value, self.span_of(meta))

    def covariates(self, meta: Meta, children: list[ir.Covariate]) -> Item:
        return Item("covariates", tuple(children), self.span_of(meta))

    def pre_covariate(self, meta: Meta, children: list[Token]) -> ir.Covariate:
        return ir.Covariate(span=self.span_of(meta), kind="pre", ref=self._ref(children[0]))

    def unit_covariate(self, meta: Meta, children: list[Token]) -> ir.Covariate:
        return ir.Covariate(span=self.span_of(meta), kind="unit", ref=self._ref(children[0]))

    def covariate_fragment(self, meta: Meta, children: list[ir.Covariate]) -> ir.Covariate:
        return children[0]

    def traffic(self, meta: Meta, children: list[Token]) -> Item:
        value = ir.Traffic(span=self.span_of(meta),
                           units=self._whole(children[0], "the traffic"), per=str(children[1]))
        return Item("traffic", value, self.span_of(meta))
