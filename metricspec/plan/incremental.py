"""Which experiments `run --incremental` can refresh exactly, and why not the others.

The incremental state keeps, per unit and hour, the components that merge over hours
exactly (counts, sums, minimums, maximums of post-exposure events). A component that does not
merge so — a distinct count, an event-level percentile, a conversion within a window, a
CUPED pre-period — would give other numbers than the full query, so such an experiment is
refused before anything is written, with the metric named.
"""

from __future__ import annotations

from metricspec.plan.experiment import ExperimentPlan

ADDITIVE = ("count", "sum", "min", "max")


def incremental_problems(plan: ExperimentPlan) -> list[str]:
    """Why the experiment cannot be refreshed incrementally (empty: it can)."""
    if plan.history:
        return ["a power-planning (history) query has no exposures to keep"]
    problems: list[str] = []
    for base in plan.bases:
        if base.quantile is not None:
            problems.append(f"metric `{base.name}`: a percentile of events does not merge "
                            "over refreshes")
        elif base.conversion is not None:
            problems.append(f"metric `{base.name}`: a conversion within a window does not "
                            "merge over refreshes")
        elif base.cuped:
            problems.append(f"metric `{base.name}`: the state keeps no CUPED pre-period")
        else:
            for comp in (base.x, base.y):
                if comp is not None and comp.func not in ADDITIVE:
                    problems.append(f"metric `{base.name}`: a `{comp.func}` component does not "
                                    "add over refreshes")
                    break
    return problems
