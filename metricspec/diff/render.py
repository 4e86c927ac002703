"""A spec diff as text, Markdown (a pull-request comment), JSON or GitHub annotations."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from metricspec.diff.compare import Change, Entry, Impact, SpecDiff
from metricspec.diff.sqldiff import SqlChange
from metricspec.safetext import markdown_code, markdown_text, printable

if TYPE_CHECKING:
    from metricspec.diff.numbers import MetricNumbers, Numbers

FORMATS = ("text", "markdown", "json", "github")


def _what(change: Change) -> str:
    also = f"; metadata: {', '.join(change.metadata_fields)}" if change.metadata_fields else ""
    if change.change == "meaning":
        return f"meaning: {', '.join(change.fields)}{also}"
    if change.change == "dependency":
        return f"through {', '.join(change.through) or 'a dependency'}{also}"
    return f"metadata only: {', '.join(change.fields)}"


def _entry(entry: Entry, verb: str) -> str:
    renamed = f" ({verb} `{entry.renamed}`)" if entry.renamed else ""
    return f"{entry.kind} `{entry.name}`{renamed}"


def _impact(item: Impact) -> str:
    return f"{item.kind} `{item.name}`" + (f" ({item.status})" if item.status else "")


def _verdict(diff: SpecDiff) -> str:
    if diff.breaking:
        return "breaking: " + "; ".join(diff.breaking)
    if diff.meaning_changed:
        return "meaning changed; nothing breaking"
    return "no change of meaning"


def text(diff: SpecDiff, sql: list[SqlChange]) -> str:
    lines: list[str] = []
    for title, entries, verb in (("added", diff.added, "renamed from"),
                                 ("removed", diff.removed, "renamed to")):
        lines += [f"{title}:"] + [f"  {_entry(e, verb)}" for e in entries] if entries else []
    if diff.changed:
        lines.append("changed:")
        lines += [f"  {c.kind} `{c.name}`: {_what(c)}" for c in diff.changed]
    if diff.impact:
        lines.append("impact:")
        lines += [f"  {_impact(i)}" for i in diff.impact]
    for change in sql:
        if change.diff:
            lines += [f"sql ({change.dialect}) {change.kind} `{change.name}`:",
                      change.diff.rstrip("\n")]
    lines.append(_verdict(diff))
    return printable("\n".join(lines), keep="\n") + "\n"


def _md_name(kind: str, name: str) -> str:
    return f"{kind} {markdown_code(name, in_table=True)}"


def _md_verdict(diff: SpecDiff) -> str:
    if not diff.breaking:
        return markdown_text(_verdict(diff))
    reasons = [f"{_md_name(e.kind, e.name)} removed" for e in diff.removed]
    reasons += [f"running experiment {markdown_code(i.name)} changes meaning"
                for i in diff.impact if i.status == "running"]
    return "**breaking**: " + "; ".join(reasons)


def markdown(diff: SpecDiff, sql: list[SqlChange]) -> str:
    mark = "❌" if diff.breaking else ("⚠️" if diff.meaning_changed else "✅")
    lines = ["## metricspec diff", "", f"{mark} {_md_verdict(diff)}", ""]
    rows: list[str] = []
    for entry in diff.added:
        extra = f"renamed from {markdown_code(entry.renamed)}" if entry.renamed else ""
        rows.append(f"| added | {_md_name(entry.kind, entry.name)} | {extra} |")
    for entry in diff.removed:
        extra = f"renamed to {markdown_code(entry.renamed)}" if entry.renamed else ""
        rows.append(f"| removed | {_md_name(entry.kind, entry.name)} | {extra} |")
    for change in diff.changed:
        what = {"meaning": "meaning", "dependency": "meaning (upstream)",
                "metadata": "metadata only"}[change.change]
        names = change.fields or change.through
        detail = ", ".join(markdown_code(n, in_table=True) for n in names)
        if change.metadata_fields:
            detail += "; metadata: " + ", ".join(markdown_code(n, in_table=True)
                                                 for n in change.metadata_fields)
        rows.append(f"| {what} | {_md_name(change.kind, change.name)} | {detail} |")
    if rows:
        lines += ["| change | object | what |", "|---|---|---|", *rows, ""]
    if diff.impact:
        lines += ["### Downstream impact", ""]
        lines += [f"- {_md_name(i.kind, i.name)}" + (f" — **{i.status}**" if i.status else "")
                  for i in diff.impact]
        lines.append("")
    for dialect in dict.fromkeys(c.dialect for c in sql if c.diff):
        lines += [f"### SQL ({dialect})", ""]
        for sql_change in (c for c in sql if c.diff and c.dialect == dialect):
            body = sql_change.diff.replace("```", "` ` `")
            lines += ["<details>", f"<summary>{sql_change.kind} {markdown_code(sql_change.name)}"
                      "</summary>", "", "```diff", body.rstrip("\n"), "```", "", "</details>",
                      ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def as_json(diff: SpecDiff, sql: list[SqlChange]) -> str:
    def entry(e: Entry) -> dict[str, Any]:
        return {"kind": e.kind, "name": e.name, "hash": e.hash, "renamed": e.renamed}

    data = {
        "breaking": diff.breaking,
        "meaning_changed": diff.meaning_changed,
        "added": [entry(e) for e in diff.added],
        "removed": [entry(e) for e in diff.removed],
        "changed": [{"kind": c.kind, "name": c.name, "change": c.change,
                     "fields": list(c.fields), "through": list(c.through),
                     "metadata_fields": list(c.metadata_fields),
                     "base_hash": c.base_hash, "head_hash": c.head_hash}
                    for c in diff.changed],
        "impact": [{"kind": i.kind, "name": i.name, "status": i.status} for i in diff.impact],
        "sql": [{"kind": c.kind, "name": c.name, "dialect": c.dialect, "diff": c.diff}
                for c in sql if c.diff],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _escape(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(value: str) -> str:
    return _escape(value).replace(":", "%3A").replace(",", "%2C")


def github(diff: SpecDiff, sql: list[SqlChange],
           file_name: Callable[[str], str] = str) -> str:
    """One annotation per change, at the object in HEAD (`file_name` maps a span's file to
    the path GitHub knows, relative to the repository); one error per removal."""
    lines: list[str] = []
    running = {i.name for i in diff.impact if i.status == "running"}
    for change in diff.changed:
        level = "notice" if change.change == "metadata" else "warning"
        if change.kind == "experiment" and change.name in running:
            level = "error"
        where = ""
        if change.span is not None and change.span.line > 0:
            where = f" file={_property(file_name(change.span.file))},"
            where += f"line={change.span.line},"
            where += f"col={change.span.column},"
        head = f"::{level}{where or ' '}title={_property('metricspec diff')}::"
        lines.append(head + _escape(printable(f"{change.kind} `{change.name}`: "
                                              f"{_what(change)}")))
    for entry in diff.removed:
        lines.append("::error title=metricspec diff::" + _escape(printable(
            f"{_entry(entry, 'renamed to')} removed")))
    return "\n".join(lines) + ("\n" if lines else "")


RENDERERS = {"text": text, "markdown": markdown, "json": as_json}


def _shown(item: MetricNumbers) -> str:
    if item.note:
        return f"not computed: {item.note}"
    return f"{item.base_text} → {item.head_text} ({item.change})"


def _named(item: MetricNumbers) -> str:
    renamed = f", was `{item.base_name}`" if item.base_name != item.name else ""
    return f"{item.label} (`{item.name}`{renamed})"


def numbers_text(numbers: Numbers) -> str:
    count = len(numbers.statements)
    lines = [f"numbers, {numbers.range}, {count} {'query' if count == 1 else 'queries'}:"]
    lines += [f"  {_named(m)}: {_shown(m)}" for m in numbers.metrics]
    return printable("\n".join(lines), keep="\n") + "\n"


def numbers_markdown(numbers: Numbers) -> str:
    lines = [f"### Numbers, {markdown_text(numbers.range)}", "",
             "| metric | base | head | change |", "|---|---|---|---|"]
    for m in numbers.metrics:
        name = markdown_text(m.label) + " " + markdown_code(m.name, in_table=True)
        if m.note:
            lines.append(f"| {name} | | | not computed: {markdown_text(m.note)} |")
        else:
            lines.append(f"| {name} | {markdown_text(m.base_text)} | "
                         f"{markdown_text(m.head_text)} | {markdown_text(m.change)} |")
    return "\n".join(lines) + "\n"


def numbers_json(numbers: Numbers) -> dict[str, Any]:
    return {"since": numbers.since.isoformat(), "until": numbers.until.isoformat(),
            "statements": len(numbers.statements),
            "metrics": [{"name": m.name, "base_name": m.base_name, "label": m.label,
                         "base": m.base, "head": m.head, "base_text": m.base_text,
                         "head_text": m.head_text, "change": m.change, "note": m.note or None}
                        for m in numbers.metrics]}


def render(diff: SpecDiff, sql: list[SqlChange], fmt: str,
           file_name: Callable[[str], str] = str, numbers: Numbers | None = None) -> str:
    """The diff in format `fmt` (one of `FORMATS`), with the warehouse numbers of the
    changed metrics when they were computed."""
    if fmt == "github":
        return github(diff, sql, file_name)
    rendered = RENDERERS[fmt](diff, sql)
    if numbers is None:
        return rendered
    if fmt == "json":
        data = json.loads(rendered)
        data["numbers"] = numbers_json(numbers)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return rendered + "\n" + numbers_markdown(numbers)
    return rendered + numbers_text(numbers)
