"""Checking again after a small change: the rules run only over what the change can affect.

A check leaves a `Snapshot` of the project it judged: each object's description (the hash
of its whole definition, spans included: `metricspec.cache.describe`) and extent, and the
diagnostics found. `recheck` judges a later state of the same files from it, or answers
None — "check everything" — whenever it cannot be sure the answer is what `check` gives:

* it applies only when the earlier project had no errors and the change is to metrics, KPI
  trees, guardrails, experiments and monitors: no object added, removed or renamed, sources
  and the calendar as they were (the caller keys the snapshot by the file names, what failed
  to parse, the backends, the lock file and the day, so those are the same too);
* the objects affected are the changed ones and, transitively, every object that mentions
  the name of an affected one (descriptions list every name an object mentions); the rules
  run over a sub-project of those, everything they mention (transitively) and every source
  and calendar (joins are found among all sources);
* the answer is the earlier diagnostics outside the affected objects and the new ones inside
  them — provided the sub-project's check agrees with the earlier one everywhere else: a
  diagnostic it finds outside the affected objects that was not there before, or one from
  before inside an object it checked again and did not find, means some rule reads more
  than the names an object mentions, and everything is checked;
* and provided the change made no error: an error's hint may name the closest of all the
  project's names (did-you-mean), which a sub-project does not have.

`tests/workflow/test_incremental_check.py` compares it with a full check over chains of
changes; `metricspec.rebuild` uses it for `compile`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from metricspec import ir
from metricspec.diagnostics import Diagnostic

Key = tuple[str, str]  # (field of `ir.Project`, name); a calendar's name is its position
Place = tuple[str, int, int, int, int]  # file, first line and column, last line and column
Describe = Callable[[ir.Node], tuple[str, frozenset[str], tuple[int, int, int, int]]]

#: The kinds a change may touch for `recheck` to apply (their fields of `ir.Project`).
CHANGEABLE = ("metrics", "kpis", "guardrails", "experiments", "monitors")
FIXED = ("sources", "calendars")


# One object as a check saw it: the digest of its definition, the names it mentions and
# the part of its file it takes (a plain tuple: a project's worth are stored and read back).
Summary = tuple[str, frozenset[str], Place]
DIGEST: Final = 0
NAMES: Final = 1
PLACE: Final = 2
Summaries = dict[Key, Summary]


@dataclass(frozen=True)
class Snapshot:
    """What a check judged: each object's summary, the diagnostics found, and for each
    diagnostic the objects it is inside (`snapshot` finds them)."""

    objects: Summaries
    diagnostics: tuple[Diagnostic, ...]
    owners: tuple[frozenset[Key], ...]


@dataclass(frozen=True)
class Change:
    """What changed since a snapshot, what that affects, and what checking those needs."""

    changed: frozenset[Key]
    affected: frozenset[Key]
    loaded: frozenset[Key]


_FIELDS: dict[type, str] = {ir.Source: "sources", ir.Metric: "metrics", ir.Kpi: "kpis",
                            ir.Guardrail: "guardrails", ir.Experiment: "experiments",
                            ir.Monitor: "monitors"}


def key_of(obj: object) -> Key | None:
    """The key of a named object (None for a calendar: its key is its position)."""
    kind = _FIELDS.get(type(obj))
    return None if kind is None else (kind, obj.name)  # type: ignore[attr-defined]


def objects(project: ir.Project) -> Iterable[tuple[Key, ir.Node]]:
    """Every object of `project` under its key."""
    for kind in (*FIXED, *CHANGEABLE):
        for position, obj in enumerate(getattr(project, kind)):
            yield (kind, str(position) if kind == "calendars" else obj.name), obj


def summary(obj: ir.Node, describe: Describe) -> Summary:
    digest, names, extent = describe(obj)
    return digest, names, (obj.span.file, *extent)


def summarize(project: ir.Project, describe: Describe) -> Summaries:
    return {key: summary(obj, describe) for key, obj in objects(project)}


def snapshot(objects: Summaries, diagnostics: Iterable[Diagnostic]) -> Snapshot:
    """The snapshot of a check of `objects` that found `diagnostics`."""
    found = tuple(diagnostics)
    return Snapshot(objects, found, _owners(found, objects))


def _owners(diagnostics: Iterable[Diagnostic], objects: Summaries
            ) -> tuple[frozenset[Key], ...]:
    """For each diagnostic, the objects it is inside."""
    by_file: dict[str, list[tuple[Key, Place]]] = {}
    files = {d.span.file for d in diagnostics}
    for key, found in objects.items():
        if found[PLACE][0] in files:
            by_file.setdefault(found[PLACE][0], []).append((key, found[PLACE]))
    return tuple(frozenset(key for key, place in by_file.get(d.span.file, ())
                           if _inside(d, place)) for d in diagnostics)


def part(project: ir.Project, keys: frozenset[Key] | set[Key]) -> ir.Project:
    """`project` with only the objects of `keys` (and every source and calendar)."""
    return project.model_copy(update={kind: tuple(
        obj for obj in getattr(project, kind) if (kind, obj.name) in keys)
        for kind in CHANGEABLE})


def change(previous: Snapshot, now: Summaries) -> Change | None:
    """What changed between `previous` and the objects `now`, or None when `recheck`
    does not apply (see the module)."""
    if any(d.is_error for d in previous.diagnostics):
        return None
    if now.keys() != previous.objects.keys():  # added, removed, renamed or twice
        return None
    changed = frozenset(key for key, found in now.items()
                        if found[DIGEST] != previous.objects[key][DIGEST])
    if any(kind in FIXED for kind, _ in changed):
        return None
    affected = _users(now, changed)
    return Change(changed, affected, mentioned(now, affected))


def recheck(previous: Snapshot, now: Summaries, checked: ir.Project, found: Change,
            run: Callable[[ir.Project], list[Diagnostic]]) -> Snapshot | None:
    """The snapshot of the check of the project whose objects are `now` (its diagnostics
    are what `check` gives), found by `run` (every rule, with the settings `previous` was
    made with) over `checked`: a part of the project with at least the objects
    `found.loaded`; None when that cannot be relied on (see the module)."""
    if not found.changed:
        return Snapshot(now, previous.diagnostics, previous.owners)
    diagnostics = run(checked)
    if any(d.is_error for d in diagnostics):
        return None
    return _merge(previous, now, diagnostics, {key: now[key] for key, _ in objects(checked)},
                  found.affected)


def _users(now: Summaries, changed: frozenset[Key]) -> frozenset[Key]:
    """`changed` and every object that mentions the name of one of them, transitively."""
    users: dict[str, list[Key]] = {}
    for key, found in now.items():
        for name in found[NAMES]:
            if name != key[1]:
                users.setdefault(name, []).append(key)
    affected, stack = set(changed), list(changed)
    while stack:
        for user in users.get(stack.pop()[1], ()):
            if user not in affected:
                affected.add(user)
                stack.append(user)
    return frozenset(affected)


def mentioned(now: Summaries, keys: Iterable[Key]) -> frozenset[Key]:
    """`keys`, everything they mention (transitively), every source and calendar."""
    by_name: dict[str, list[Key]] = {}
    for key in now:
        by_name.setdefault(key[1], []).append(key)
    keys = list(keys)
    loaded = {key for key in now if key[0] in FIXED} | set(keys)
    stack = keys
    while stack:
        for name in now[stack.pop()][NAMES]:
            for key in by_name.get(name, ()):
                if key not in loaded:
                    loaded.add(key)
                    stack.append(key)
    return frozenset(loaded)


def _inside(d: Diagnostic, place: Place) -> bool:
    s = d.span
    return s.file == place[0] and place[1:3] <= (s.line, s.column) <= place[3:5]


def _identity(d: Diagnostic) -> tuple[object, ...]:
    s = d.span
    return (d.code, d.severity, d.message, d.hint, d.notes, s.file, s.line, s.column,
            s.end_line, s.end_column)


def _merge(previous: Snapshot, now: Summaries, found: list[Diagnostic], checked: Summaries,
           affected: frozenset[Key]) -> Snapshot | None:
    """The earlier diagnostics outside `affected` and `found` inside it; None when `found`
    and the earlier ones disagree about an object `checked` again but not affected, or
    about a place outside every object."""
    before = {_identity(d) for d in previous.diagnostics}
    again = {_identity(d) for d in found}
    kept: list[tuple[Diagnostic, frozenset[Key]]] = []
    for d, owners in zip(found, _owners(found, checked), strict=True):
        if owners & affected:
            kept.append((d, owners))
        elif _identity(d) not in before:
            return None  # a rule found something outside what the change affects
    others = checked.keys() - affected
    for d, owners in zip(previous.diagnostics, previous.owners, strict=True):
        if owners & affected:
            continue  # judged again
        if (not owners or owners & others) and _identity(d) not in again:
            return None  # checked again (or about no object) and not found again
        kept.append((d, owners))
    unique = {_identity(d): (d, owners) for d, owners in kept}
    ordered = sorted(unique.values(), key=lambda pair: pair[0].sort_key())
    return Snapshot(now, tuple(d for d, _ in ordered), tuple(o for _, o in ordered))
