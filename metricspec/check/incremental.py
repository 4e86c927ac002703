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

`tests/check/test_incremental.py` compares it with a full check over chains of changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from metricspec import ir
from metricspec.diagnostics import Diagnostic

Key = tuple[str, str]  # (kind, name); a calendar's name is its position
Place = tuple[str, int, int, int, int]  # file, line, column, end line, end column
Describe = Callable[[ir.Node], tuple[str, frozenset[str], tuple[int, int, int, int]]]

#: The kinds a change may touch for `recheck` to apply (their fields of `ir.Project`).
CHANGEABLE = ("metrics", "kpis", "guardrails", "experiments", "monitors")
_FIXED = ("sources", "calendars")


@dataclass(frozen=True)
class Snapshot:
    """What a check judged: each object's description digest and extent, and the result."""

    objects: dict[Key, tuple[str, Place]]
    diagnostics: tuple[Diagnostic, ...]


def _objects(project: ir.Project) -> Iterable[tuple[Key, ir.Node]]:
    for kind in (*_FIXED, *CHANGEABLE):
        for position, obj in enumerate(getattr(project, kind)):
            name = str(position) if kind == "calendars" else obj.name
            yield (kind, name), obj


def _place(span: ir.Span) -> Place:
    return (span.file, span.line, span.column, span.end_line, span.end_column)


def snapshot(project: ir.Project, describe: Describe,
             diagnostics: Iterable[Diagnostic]) -> Snapshot:
    """What a check of `project` that found `diagnostics` leaves for `recheck`."""
    objects = {}
    for key, obj in _objects(project):
        digest, _, extent = describe(obj)
        objects[key] = (digest, (obj.span.file, *extent))
    return Snapshot(objects, tuple(diagnostics))


def recheck(project: ir.Project, previous: Snapshot, describe: Describe,
            run: Callable[[ir.Project], list[Diagnostic]]) -> list[Diagnostic] | None:
    """The diagnostics `check` gives for `project`, found by `run` (every rule, with the
    settings the snapshot was made with) over the part a change since `previous` can
    affect; None when that cannot be relied on (see the module)."""
    if any(d.is_error for d in previous.diagnostics):
        return None
    objects = dict(_objects(project))
    if objects.keys() != previous.objects.keys():  # added, removed, renamed or twice
        return None
    described = {key: describe(obj) for key, obj in objects.items()}
    changed = {key for key, (digest, _, _) in described.items()
               if digest != previous.objects[key][0]}
    if not changed:
        return list(previous.diagnostics)
    if any(kind in _FIXED for kind, _ in changed):
        return None
    affected = _users(described, changed)
    loaded = _mentioned(described, affected)
    part = project.model_copy(update={kind: tuple(
        obj for position, obj in enumerate(getattr(project, kind))
        if (kind, str(position) if kind == "calendars" else obj.name) in loaded)
        for kind in CHANGEABLE})
    found = run(part)
    if any(d.is_error for d in found):
        return None
    return _merge(previous, found, {
        key: (objects[key].span.file, *described[key][2]) for key in loaded}, affected)


Described = dict[Key, tuple[str, frozenset[str], tuple[int, int, int, int]]]


def _users(described: Described, changed: set[Key]) -> set[Key]:
    """`changed` and every object that mentions the name of one of them, transitively."""
    users: dict[str, list[Key]] = {}
    for key, (_, names, _) in described.items():
        for name in names:
            if name != key[1]:
                users.setdefault(name, []).append(key)
    affected, stack = set(changed), list(changed)
    while stack:
        for user in users.get(stack.pop()[1], ()):
            if user not in affected:
                affected.add(user)
                stack.append(user)
    return affected


def _mentioned(described: Described, affected: set[Key]) -> set[Key]:
    """`affected`, everything they mention (transitively), every source and calendar."""
    by_name: dict[str, list[Key]] = {}
    for key in described:
        by_name.setdefault(key[1], []).append(key)
    loaded = {key for key in described if key[0] in _FIXED} | affected
    stack = list(affected)
    while stack:
        for name in described[stack.pop()][1]:
            for key in by_name.get(name, ()):
                if key not in loaded:
                    loaded.add(key)
                    stack.append(key)
    return loaded


def _inside(d: Diagnostic, place: Place) -> bool:
    s = d.span
    return s.file == place[0] and place[1:3] <= (s.line, s.column) <= place[3:5]


def _identity(d: Diagnostic) -> tuple[object, ...]:
    return (d.code, d.severity, d.message, d.hint, d.notes, _place(d.span))


def _merge(previous: Snapshot, found: list[Diagnostic], places: dict[Key, Place],
           affected: set[Key]) -> list[Diagnostic] | None:
    """The earlier diagnostics outside `affected` and `found` inside it; None when `found`
    and the earlier ones disagree about an object checked again but not affected, or about
    a place outside every object."""
    before = {_identity(d) for d in previous.diagnostics}
    again = {_identity(d) for d in found}
    new_places = [places[key] for key in affected]
    kept = [d for d in found if any(_inside(d, p) for p in new_places)]
    for d in found:
        if not any(_inside(d, p) for p in new_places) and _identity(d) not in before:
            return None  # a rule found something outside what the change affects
    by_file: dict[str, list[tuple[Key, Place]]] = {}
    for key, (_, place) in previous.objects.items():
        by_file.setdefault(place[0], []).append((key, place))
    checked = places.keys() - affected
    for d in previous.diagnostics:
        within = {key for key, place in by_file.get(d.span.file, ()) if _inside(d, place)}
        if within & affected:
            continue  # judged again
        if (not within or within & checked) and _identity(d) not in again:
            return None  # checked again (or about no object) and not found again
        kept.append(d)
    unique = {_identity(d): d for d in kept}
    return sorted(unique.values(), key=Diagnostic.sort_key)
