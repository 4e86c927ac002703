"""Compare two projects: objects added, removed and changed, each change classified as a
change of meaning (naming the IR fields that differ) or of metadata only, and the downstream
impact — every object whose resolved meaning changed through what it depends on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from metricspec import ir
from metricspec.hashing import Hasher, ObjectHash, definition, field_paths, metadata, objects
from metricspec.semantic import Index, Status, experiment_status

__all__ = ["Change", "Entry", "Impact", "SpecDiff", "compare", "experiment_status", "field_paths"]
ChangeKind = Literal["meaning", "dependency", "metadata"]


@dataclass(frozen=True)
class Change:
    """One object present on both sides whose hashes differ.

    `kind` is `meaning` when its own definition changed (`fields` names the IR fields),
    `dependency` when only something it depends on did (`through` names those), `metadata`
    when only its label, description, owner, tags, format or unit did (`fields` again)."""

    kind: str
    name: str
    change: ChangeKind
    fields: tuple[str, ...] = ()
    through: tuple[str, ...] = ()
    base_hash: str = ""
    head_hash: str = ""
    span: ir.Span | None = None
    metadata_fields: tuple[str, ...] = ()  # metadata that changed too, with the meaning


@dataclass(frozen=True)
class Entry:
    """An object added or removed (`renamed` names its counterpart with the same meaning)."""

    kind: str
    name: str
    hash: str
    renamed: str | None = None
    span: ir.Span | None = None


@dataclass(frozen=True)
class Impact:
    """A downstream object whose meaning changes (directly or through a dependency)."""

    kind: str
    name: str
    status: Status | None = None  # experiments only


@dataclass
class SpecDiff:
    added: list[Entry] = field(default_factory=list)
    removed: list[Entry] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    impact: list[Impact] = field(default_factory=list)

    @property
    def meaning_changed(self) -> bool:
        return bool(self.added or self.removed or any(
            c.change != "metadata" for c in self.changed))

    @property
    def breaking(self) -> list[str]:
        """Why the change is breaking: a removal, or a meaning change reaching a running
        experiment."""
        reasons = [f"{e.kind} `{e.name}` removed" for e in self.removed]
        reasons += [f"running experiment `{i.name}` changes meaning" for i in self.impact
                    if i.status == "running"]
        return reasons


def _with_names(value: Any, renamed: dict[str, str]) -> Any:
    """Plain IR data with references to renamed metrics (`{"name": old}` references and
    metric references in expressions) naming the new metric: a dependent that differs only
    by following a rename changes through it, not in its own definition."""
    if isinstance(value, list):
        return [_with_names(v, renamed) for v in value]
    if not isinstance(value, dict):
        return value
    if (set(value) <= {"kind", "name"} and value.get("kind", "metric_ref") == "metric_ref"
            and value.get("name") in renamed):
        return {**value, "name": renamed[value["name"]]}
    return {k: _with_names(v, renamed) for k, v in value.items()}


def _rename_key(obj_hash: ObjectHash, obj: ir.SpecObject) -> str:
    own = definition(obj)
    own.pop("name", None)
    return f"{obj_hash.kind}:{own!r}"


def compare(base: Index, head: Index, today: dt.date) -> SpecDiff:
    """The semantic diff from `base` to `head`."""
    before, after = Hasher(base).all(), Hasher(head).all()
    base_objects, head_objects = objects(base), objects(head)
    result = SpecDiff()
    removed = [key for key in before if key not in after]
    added = [key for key in after if key not in before]
    rename_from = {_rename_key(before[k], base_objects[k[0]][k[1]]): k[1] for k in removed}
    rename_to = {_rename_key(after[k], head_objects[k[0]][k[1]]): k[1] for k in added}
    for kind, name in removed:
        same = _rename_key(before[(kind, name)], base_objects[kind][name])
        result.removed.append(Entry(kind, name, before[(kind, name)].meaning,
                                    rename_to.get(same), base_objects[kind][name].span))
    for kind, name in added:
        same = _rename_key(after[(kind, name)], head_objects[kind][name])
        result.added.append(Entry(kind, name, after[(kind, name)].meaning,
                                  rename_from.get(same), head_objects[kind][name].span))
    renamed = {e.name: e.renamed for e in result.removed if e.kind == "metric" and e.renamed}
    meaning_changed: set[str] = {f"{k}:{n}" for k, n in removed + added}
    for key in (k for k in after if k in before):
        old, new = before[key], after[key]
        if old.meaning == new.meaning and old.metadata == new.metadata:
            continue
        kind, name = key
        old_obj, new_obj = base_objects[kind][name], head_objects[kind][name]
        if old.own != new.own and _with_names(definition(old_obj), renamed) != definition(
                new_obj):
            change = Change(kind, name, "meaning",
                            tuple(field_paths(_with_names(definition(old_obj), renamed),
                                              definition(new_obj))))
        elif old.meaning != new.meaning:
            change = Change(kind, name, "dependency")
        else:
            change = Change(kind, name, "metadata",
                            tuple(field_paths(metadata(old_obj), metadata(new_obj))))
        if change.change != "metadata":
            meaning_changed.add(f"{kind}:{name}")
        also = (() if change.change == "metadata" or old.metadata == new.metadata
                else tuple(field_paths(metadata(old_obj), metadata(new_obj))))
        result.changed.append(Change(
            change.kind, change.name, change.change, change.fields, change.through,
            old.meaning, new.meaning, new_obj.span, also))
    # what each dependency change came through: its direct dependencies that changed
    result.changed = [
        c if c.change != "dependency" else Change(
            c.kind, c.name, c.change, c.fields,
            tuple(d for d in after[(c.kind, c.name)].depends_on if d in meaning_changed),
            c.base_hash, c.head_hash, c.span, c.metadata_fields)
        for c in result.changed]
    for c in result.changed:
        if c.change == "metadata" or c.kind == "source":
            continue
        exp = head.experiments.get(c.name) if c.kind == "experiment" else None
        result.impact.append(Impact(c.kind, c.name,
                                    experiment_status(exp, today) if exp else None))
    return result
