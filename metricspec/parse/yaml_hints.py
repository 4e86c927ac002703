"""Hints in the syntax of the file they are about.

The checker judges the IR, which is the same for both front ends, and its hints quote the
DSL (`add e.g. \\`alpha 0.05\\``). For a diagnostic in a YAML file each quoted DSL snippet is
rewritten as the YAML that says the same (`alpha: 0.05`); text that is not a DSL snippet is
left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from metricspec.diagnostics import Diagnostic

YAML_SUFFIXES = (".yaml", ".yml")

# DSL keywords whose YAML key has the same name and takes the rest of the line as its value.
_SAME_KEY = ("unit", "metric", "every", "alpha", "power", "srm_alpha", "min_n", "time",
             "north_star", "primary", "secondary", "segments", "direction", "format",
             "cuped", "mde", "traffic", "correction", "owner", "description", "label",
             "tags", "baseline", "dimensions", "condition")
_SNIPPET = re.compile(r"`([^`\n]+)`")


def _variants(rest: str) -> str | None:
    """`control 50% control, treatment 50%` → `variants: {control: 50%, treatment: 50%}`."""
    shares, control = [], None
    for part in rest.split(","):
        words = part.split()
        if len(words) not in (2, 3) or (len(words) == 3 and words[2] != "control"):
            return None
        shares.append(f"{words[0]}: {words[1]}")
        if len(words) == 3:
            control = words[0]
    text = "variants: {" + ", ".join(shares) + "}"
    return f"{text}` and `control: {control}" if control else text


def _assignment(rest: str) -> str | None:
    """`assignments variant variant` → `assignment: {source: assignments, variant: variant}`."""
    match = re.fullmatch(r"(\S+)(?: variant (\S+))?(?: where (.+))?", rest)
    if not match:
        return None
    parts = [f"source: {match.group(1)}"]
    if match.group(2):
        parts.append(f"variant: {match.group(2)}")
    if match.group(3):
        parts.append(f"where: {match.group(3)}")
    return "assignment: {" + ", ".join(parts) + "}"


_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str | None]], ...] = (
    (re.compile(r"variants (.+)"), lambda m: _variants(m.group(1))),
    (re.compile(r"assignment (.+)"), lambda m: _assignment(m.group(1))),
    (re.compile(r"window (\S+) ?\.\. ?(\S+)"), lambda m: f"window: {m.group(1)}..{m.group(2)}"),
    (re.compile(r"entity (\S+)"), lambda m: f"entities: [{m.group(1)}]"),
    (re.compile(r"alert when (.+)"), lambda m: f"alert: {m.group(1)}"),
    (re.compile(r"sequential looks (\S+)"), lambda m: f"sequential: {{looks: {m.group(1)}}}"),
    (re.compile(r"baseline mean (\S+)(?: sd (\S+))?"),
     lambda m: "baseline: {mean: " + m.group(1)
     + (f", sd: {m.group(2)}" if m.group(2) else "") + "}"),
    (re.compile(r"guardrail (\S+) (.+)"), lambda m: f"guardrails: {{{m.group(1)}: {m.group(2)}}}"),
    (re.compile(r"metric (\w+) = (.+)"), lambda m: f"{m.group(1)}: {{expr: {m.group(2)}}}"),
    (re.compile(r"at (\S+%)"), lambda m: f"<metric>: {m.group(1)}"),
    (re.compile(r"(\w+) (\S+) control"), lambda m: f"control: {m.group(1)}"),
    (re.compile(r"({}) (.+)".format("|".join(_SAME_KEY))), lambda m: f"{m.group(1)}: {m.group(2)}"),
)


def yaml_snippet(snippet: str) -> str:
    """One quoted DSL snippet as YAML; anything else unchanged.

    >>> yaml_snippet("alpha 0.05"), yaml_snippet("entity user_id")
    ('alpha: 0.05', 'entities: [user_id]')
    >>> yaml_snippet("max_increase 10%"), yaml_snippet("csat")
    ('max_increase 10%', 'csat')
    """
    for pattern, build in _RULES:
        match = pattern.fullmatch(snippet)
        if match:
            built = build(match)
            if built is not None:
                return built
    return snippet


def yaml_hint(hint: str) -> str:
    """Every backquoted DSL snippet of a hint rewritten as YAML.

    >>> yaml_hint("add e.g. `variants control 50% control, treatment 50%`")
    'add e.g. `variants: {control: 50%, treatment: 50%}` and `control: control`'
    """
    return _SNIPPET.sub(lambda m: f"`{yaml_snippet(m.group(1))}`", hint)


def in_file_syntax(diagnostic: Diagnostic) -> Diagnostic:
    """The diagnostic with its hint in YAML syntax when it is about a YAML file."""
    if not diagnostic.hint or not diagnostic.span.file.endswith(YAML_SUFFIXES):
        return diagnostic
    hint = yaml_hint(diagnostic.hint)
    return diagnostic if hint == diagnostic.hint else replace(diagnostic, hint=hint)
