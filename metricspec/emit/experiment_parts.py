"""Names shared by the experiment-query builders: internal column names and partitions."""

from __future__ import annotations

from metricspec.plan.experiment import ExperimentPlan

UNIT, VARIANT, EXPOSED = "__unit", "__variant", "__exposed_at"


def seg(name: str) -> str:
    """The column a segment is carried in (`users.plan`: `__seg_users_plan`)."""
    return f"__seg_{name.replace('.', '_')}"


def partitions(plan: ExperimentPlan) -> list[tuple[str, str | None]]:
    """('all', None) and one (segment, column) per segment dimension."""
    return [("all", None), *[(s, seg(s)) for s in plan.segments]]


def suffix(segment: str | None) -> str:
    return "" if segment is None else f"__{segment}"
