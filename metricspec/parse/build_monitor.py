"""Monitor blocks and their alert rules; the project's calendar block."""

from __future__ import annotations

from typing import Any

from lark.tree import Meta

from metricspec import ir
from metricspec.parse.build_base import BuilderBase, Item, flat


class MonitorRules(BuilderBase):
    """The rules of these blocks that the `SETTINGS` table does not read."""

    def monitor(self, meta: Meta, children: list[Any]) -> ir.Monitor:
        name = children[0]
        s = self._settings([c for c in children[1:] if isinstance(c, Item)], "monitor")
        return ir.Monitor(
            span=self.span_of(name), name=str(name), label=s.get("label"),
            description=s.get("description"), owner=s.get("owner"), metric=s.get("metric"),
            every=s.get("every"), alert=s.get("alert"),
            baseline=s["baseline"] if isinstance(s.get("baseline"), ir.Duration) else None,
            baseline_offset=s["baseline"] if isinstance(s.get("baseline"), ir.PeriodOffset)
            else None,
            min_n=s.get("min_n"),
            dimensions=flat(s.get("dimensions", [])),
            setting_spans=self._setting_spans([c for c in children[1:] if isinstance(c, Item)]))

    def monitor_item(self, meta: Meta, children: list[Any]) -> None:
        return None

    def calendar(self, meta: Meta, children: list[Any]) -> ir.Calendar:
        items = [c for c in children if isinstance(c, Item)]
        s = self._settings(items, "calendar")
        whole = self.span_of(meta)  # the block; diagnostics point at its keyword
        return ir.Calendar(
            span=ir.Span.point(whole.file, whole.line, whole.column, len("calendar")),
            timezone=s.get("timezone"), week_start=s.get("week_start"),
            fiscal_year_start=s.get("fiscal_year_start"), description=s.get("description"),
            setting_spans=self._setting_spans(items))

    def calendar_item(self, meta: Meta, children: list[Any]) -> None:
        return None

    def alert_rule(self, meta: Meta, children: list[Any]) -> ir.AlertRule:
        kind, threshold = children[0]
        consecutive = 1
        if len(children) > 1:
            count, unit = children[1], children[2]
            consecutive = self._whole(count, "the number of windows")
            if str(unit).lower() not in ("window", "windows"):
                self._error("MS107", f"expected `windows` after `for {count}`, not `{unit}`",
                            unit, f"write `for {count} windows`")
        return ir.AlertRule(span=self.span_of(meta), kind=kind, threshold=threshold,
                            consecutive=consecutive)

    def relative_alert(self, meta: Meta, children: list[Any]) -> tuple[str, ir.Amount]:
        return f"{children[0]}_baseline", children[1]

    def threshold_alert(self, meta: Meta, children: list[Any]) -> tuple[str, ir.Amount]:
        return str(children[0]), children[1]

    def zscore_alert(self, meta: Meta, children: list[Any]) -> tuple[str, ir.Amount]:
        return f"zscore_{children[0]}", children[1]
