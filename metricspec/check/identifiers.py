"""Names are identifiers (MS207); free text belongs in labels.

Every name a spec defines or refers to — sources and their entities, time column,
dimensions and columns; metrics, KPI trees, guardrails, experiments, monitors; variants;
the column an experiment's assignment names — is a letter or `_` followed by letters,
digits and `_`, at most `MAX_LENGTH` characters. The DSL grammar already reads names this
way; the YAML front end takes any text as a key, so this rule is what holds both to it.

Names become SQL identifiers, file names and page links: a name such as `../../x`, `a/b`,
an empty name or one holding a newline or an escape sequence is refused here, at its span,
and no later stage ever sees it (the command line stops on any error of `check`). The
length limit is PostgreSQL's: it silently truncates identifiers longer than 63 bytes.
Tags are labels for the catalog (`north-star`), not names: they are only ever shown, escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from metricspec import ir
from metricspec.check.context import Context
from metricspec.diagnostics import Diagnostic, error
from metricspec.safetext import printable

MAX_LENGTH = 63
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_HINT = ("a name is a letter or `_` followed by letters, digits and `_` (at most "
         f"{MAX_LENGTH} characters); put free text in `label`")


def is_identifier(name: str) -> bool:
    """Whether `name` may name something in a spec.

    >>> [is_identifier(n) for n in ("csat", "_x1", "1x", "a-b", "../x", "", "é", "a" * 64)]
    [True, True, False, False, False, False, False, False]
    """
    return len(name) <= MAX_LENGTH and IDENTIFIER.match(name) is not None


def _shown(name: str) -> str:
    """The name as a message shows it: control characters visible, long names cut."""
    return printable(name if len(name) <= 40 else name[:40] + "…")


def _problem(kind: str, name: str, span: ir.Span) -> Diagnostic | None:
    if is_identifier(name):
        return None
    if IDENTIFIER.match(name):
        what = f"is {len(name)} characters long, more than {MAX_LENGTH}"
    elif not name:
        what = "is empty"
    else:
        what = "is not an identifier"
    return error("MS207", f"{kind} name `{_shown(name)}` {what}", span, _HINT)


def _names(project: ir.Project) -> Iterator[tuple[str, str, ir.Span]]:
    """(kind, name, span) of every name in the project."""
    for source in project.sources:
        yield "source", source.name, source.span
        for column in source.all_columns():
            yield "column", column.name, column.span
    for metric in project.metrics:
        yield "metric", metric.name, metric.span
    for kpi in project.kpis:
        yield "KPI tree", kpi.name, kpi.span
    for guardrail in project.guardrails:
        yield "guardrail", guardrail.name, guardrail.span
    for exp in project.experiments:
        yield "experiment", exp.name, exp.span
        for variant in exp.variants:
            yield "variant", variant.name, variant.span
        # Other references must name something declared (MS201–MS206, MS503), hence an
        # identifier; a variant column of a source that declares no columns is not checked
        # against a declaration, so it is checked here.
        chosen = exp.assignment.variant_column if exp.assignment else None
        if chosen is not None:
            yield "variant column", chosen.name, chosen.span
    for monitor in project.monitors:
        yield "monitor", monitor.name, monitor.span


def rule_identifiers(ctx: Context) -> Iterator[Diagnostic]:
    """MS207 at every name that is not an identifier."""
    for kind, name, span in _names(ctx.project):
        found = _problem(kind, name, span)
        if found is not None:
            yield found
