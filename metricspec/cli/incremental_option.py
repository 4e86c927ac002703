"""`run --incremental`: the request judged before any connection, then the refresh."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from metricspec.cli.common import err, usage_error
from metricspec.cli.settings import VERBOSITY

if TYPE_CHECKING:
    from metricspec.run.connections import Connection


def incremental_or_exit(index: Any, experiment: str, lookback: str, budget: Any) -> Any:
    """`run --incremental`, judged before any connection: an experiment whose metrics do not
    merge over refreshes, a bad `--lookback` or a scan budget (not supported) is exit 2."""
    from metricspec.plan.experiment import plan_experiment
    from metricspec.plan.incremental import incremental_problems
    from metricspec.plan.lower import PlanError
    from metricspec.run.incremental import describe, parse_lookback, run_incremental

    try:
        window = parse_lookback(lookback)
    except ValueError as exc:
        usage_error(str(exc))
    if budget is not None:
        usage_error("--max-scan cannot be combined with --incremental yet")
    try:
        plan = plan_experiment(index, experiment)
    except PlanError as exc:
        usage_error(str(exc))
    problems = incremental_problems(plan)
    if problems:
        usage_error(f"--incremental: experiment `{experiment}` cannot be refreshed "
                    "incrementally:\n" + "".join(f"  - {p}\n" for p in problems)
                    + "  run it without --incremental: a full run reads every event")

    def refresh(conn: Connection, step: Any) -> Any:
        result, done = run_incremental(index, experiment, conn, window, step)
        if not VERBOSITY.quiet:
            err.print(describe(done), markup=False)
        return result

    return refresh
