"""A query-time filter on dimensions (`metricspec query --where "channel = 'chat'"`).

The text is parsed exactly as a spec's `where` is (`metricspec.filters`: a closed grammar,
rebuilt by metricspec), and the columns it reads must be dimensions (or entities) every
source of the query can group by, the same set `--by` accepts. It is a request, so what is
wrong with it is a `WhereError` (a `PlanError`) carrying the problems at their character
ranges in the option's text, for the command line to show with a caret. The plan carries the
checked filter; the emitter applies it to every scan of a source (and to a conversion's
starting events) before grouping.
"""

from __future__ import annotations

import dataclasses
import difflib

from metricspec.filters import FilterProblem, parse_filter
from metricspec.plan.lower import PlanError
from metricspec.plan.metric_query import MetricQueryPlan, available_dimensions


class WhereError(PlanError):
    """`--where` text that is not a filter on the query's dimensions."""

    def __init__(self, text: str, problems: tuple[FilterProblem, ...]) -> None:
        super().__init__(f"--where `{text}`: {problems[0].message}")
        self.text = text
        self.problems = problems


def restrict(plan: MetricQueryPlan, text: str, subject: str | None = None) -> MetricQueryPlan:
    """The plan with `text` as its query-time filter (`subject` names what is filtered in
    messages; default: the plan's metrics).

    Raises:
        WhereError: the text is outside the filter grammar or reads a column that is not a
            dimension of every source the query groups.
    """
    checked, problems = parse_filter(text)
    if checked is None or problems:
        raise WhereError(text, problems)
    available = available_dimensions(plan.sources, plan.conversions)
    metrics = subject or ", ".join(f"`{m.name}`" for m in plan.metrics)
    wrong = []
    for ref in checked.references:
        if ref.name in available and ref.table is None:
            continue
        close = difflib.get_close_matches(ref.name, available, n=1)
        hint = (f"did you mean `{close[0]}`?" if close else
                f"filter on one of {', '.join(available)}" if available else
                "its sources share no dimension to filter on")
        written = f"{ref.table}.{ref.name}" if ref.table else ref.name
        wrong.append(FilterProblem("MS405", f"`{written}` is not a dimension of {metrics}",
                                   ref.start, ref.end, hint))
    if wrong:
        raise WhereError(text, tuple(wrong))
    return dataclasses.replace(plan, where=checked)
