"""The Lark transformer that turns a parse tree into IR: one mixin per spec block
(`build_source`, `build_metric`, `build_expr`, `build_kpi`, `build_experiment`,
`build_monitor`) over the shared `build_base`, whose `SETTINGS` table reads every plain
`key value;` setting. Here: the combined `Builder` and the fragment rules the YAML front end
parses values with.
"""

from __future__ import annotations

from typing import Any

from lark import Token
from lark.tree import Meta

from metricspec import ir
from metricspec.parse.build_base import MAX_WHOLE, BuilderBase
from metricspec.parse.build_experiment import ExperimentRules
from metricspec.parse.build_expr import ExprRules
from metricspec.parse.build_kpi import KpiRules
from metricspec.parse.build_metric import MetricRules
from metricspec.parse.build_monitor import MonitorRules
from metricspec.parse.build_source import SourceRules

__all__ = ["MAX_WHOLE", "Builder", "BuilderBase"]


class Builder(SourceRules, MetricRules, ExprRules, KpiRules, ExperimentRules, MonitorRules):
    """Build IR from a parse tree of `grammar/metricspec.lark` (see `BuilderBase`)."""

    def expr_fragment(self, meta: Meta, children: list[Any]) -> Any:
        return children[0]

    def duration_fragment(self, meta: Meta, children: list[ir.Duration]) -> ir.Duration:
        return children[0]

    def amount_fragment(self, meta: Meta, children: list[ir.Amount]) -> ir.Amount:
        return children[0]

    def mde_fragment(self, meta: Meta, children: list[Any]) -> ir.Mde:
        value: ir.Mde = self.mde(meta, children).value
        return value

    def window_fragment(self, meta: Meta, children: list[Token]) -> ir.AnalysisWindow:
        value: ir.AnalysisWindow = self.window(meta, children).value
        return value

    def traffic_fragment(self, meta: Meta, children: list[Token]) -> ir.Traffic:
        value: ir.Traffic = self.traffic(meta, children).value
        return value

    def condition_fragment(self, meta: Meta, children: list[Any]) -> tuple[ir.Ref, str, ir.Amount]:
        return self._ref(children[0]), str(children[1]), children[2]

    def composition_fragment(self, meta: Meta, children: list[Any]) -> tuple[str, list[Any]]:
        result: tuple[str, list[Any]] = children[0]
        return result

    def unit_fragment(self, meta: Meta, children: list[str]) -> str:
        return children[0]

    def alert_fragment(self, meta: Meta, children: list[ir.AlertRule]) -> ir.AlertRule:
        return children[0]
