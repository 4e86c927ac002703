"""The compile cache's keys: what a compiled query depends on, hashed.

A query's key hashes the tool's fingerprint, the backend's definition, the request, the kind
and name of what is compiled, and — for the object (or each metric of a source group) and
for everything it refers to, transitively — its full definition (spans removed, metadata
kept) and the file it is written in (the SQL header names the files). References are found
generically: every `name` field anywhere in an object's JSON counts (references are `Ref`
and `MetricRef` nodes, whose one field is `name`), and a name counts for every object of
that name, whatever its kind. This over-approximates what
`metricspec.hashing` (which is made for diffs and only covers the columns a metric reads)
would say, so a change anywhere a query could depend on gives a new key: an entry is never
stale, at the price of sometimes rebuilding a query that would not have changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from metricspec import ir
from metricspec.backends import Backend
from metricspec.cache import Description, describe, key, loads
from metricspec.pipeline.driver import Compiled, plan_kind
from metricspec.pipeline.kinds import Kind, Plan, Request, metric_groups
from metricspec.semantic import Index

_KINDS = ("source", "metric", "kpi", "guardrail", "experiment", "monitor")


_UNLOADED = object()


class _LazyPlan:
    """`Compiled.plan` of a query read from the cache: unpickled when first read."""

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        state = obj.__dict__
        if state["_plan"] is _UNLOADED:
            state["_plan"] = state.pop("_load_plan")()
        return state["_plan"]

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__["_plan"] = value


class CachedCompiled(Compiled):
    """A `Compiled` read from the cache; its plan is loaded only if someone reads it."""

    plan = _LazyPlan()


def lazy_compiled(kind: Kind, name: str, backend: Backend, sql: str, notes: tuple[str, ...],
                  entry: str, load: Callable[[], Plan]) -> Compiled:
    """A `Compiled` whose plan `load` gives when it is first read."""
    query: CachedCompiled = object.__new__(CachedCompiled)  # its fields set directly: a
    query.__dict__.update(kind=kind, name=name, backend=backend, _plan=_UNLOADED, sql=sql,
                          notes=tuple(notes), key=entry, _load_plan=load)  # project's worth
    return query


class QueryKeys:
    """The cache keys of one project's queries (each object hashed once)."""

    def __init__(self, index: Index, fingerprint: str,
                 description: Callable[[ir.Node], Description] = describe) -> None:
        self.index = index
        self.fingerprint = fingerprint
        self._description = description
        self._by_name: dict[str, list[tuple[str, ir.Node]]] = {}
        tables: dict[str, dict[str, Any]] = {"source": dict(index.sources), **{
            kind: index.objects[kind] for kind in _KINDS[1:]}}
        for kind in _KINDS:
            for name, obj in tables[kind].items():
                self._by_name.setdefault(name, []).append((kind, obj))
        self._ids = {id(obj): (kind, name) for kind in _KINDS
                     for name, obj in tables[kind].items()}
        self._tables = tables
        self._own: dict[str, tuple[str, frozenset[str]]] = {}  # id -> (entry, refs)
        self._closure: dict[str, frozenset[str]] = {}
        self._groups: dict[str, tuple[str, ...]] | None = None
        self._definitions: dict[tuple[str, str], str] = {}
        self._backends: dict[int, tuple[Backend, str]] = {}

    def _describe(self, kind: str, obj: ir.Node) -> tuple[str, frozenset[str]]:
        """`kind:name=digest@file` of one object, and the names it refers to."""
        ident = f"{kind}:{getattr(obj, 'name', '')}"
        if ident not in self._own:
            digest, names, _ = self._description(obj)
            self._own[ident] = (f"{ident}={digest}@{obj.span.file}", names)
        return self._own[ident]

    def closure(self, kind: str, obj: ir.Node) -> frozenset[str]:
        """The entries of `obj` and of everything it refers to, transitively."""
        ident = f"{kind}:{getattr(obj, 'name', '')}"
        if ident in self._closure:
            return self._closure[ident]
        found: set[str] = set()
        stack, seen = [(kind, obj)], {ident}
        while stack:  # iterative: chains of metrics may be long
            node_kind, node = stack.pop()
            node_ident = f"{node_kind}:{getattr(node, 'name', '')}"
            if node_ident in self._closure and node is not obj:
                found |= self._closure[node_ident]
                continue
            entry, refs = self._describe(node_kind, node)
            found.add(entry)
            for name in sorted(refs):
                for ref_kind, ref in self._by_name.get(name, ()):
                    ref_ident = f"{ref_kind}:{name}"
                    if ref_ident not in seen:
                        seen.add(ref_ident)
                        stack.append((ref_kind, ref))
        self._closure[ident] = result = frozenset(found)
        return result

    def reference(self, obj: Any) -> tuple[str, str] | None:
        """A spec object of this project is stored in a plan as its kind and name: the key
        covers its whole definition, so the reader's object of that name is this one."""
        return self._ids.get(id(obj)) if isinstance(obj, ir.Node) else None

    def resolve(self, reference: Any) -> Any:
        """The spec object `reference` names (KeyError when there is none: a miss)."""
        kind, name = reference
        return self._tables[kind][name]

    def compiled(self, kind: Kind, name: str, backend: Backend, sql: str,
                 notes: tuple[str, ...], plan: bytes | Callable[[], bytes | None],
                 entry: str = "") -> Compiled:
        """The `Compiled` of a cache entry (under the key `entry`); its plan (pickled, or a
        function that reads it) is unpickled when read (planned again, should it be missing
        or fail to load: an entry of this key holds this plan)."""
        return lazy_compiled(kind, name, backend, sql, notes, entry,
                             lambda: self.load_plan(kind, name, plan))

    def load_plan(self, kind: Kind, name: str,
                  plan: bytes | Callable[[], bytes | None]) -> Plan:
        """A stored plan of this project's object `name` (see `compiled`)."""
        try:
            data = plan if isinstance(plan, bytes) else plan()
            if data is None:
                raise LookupError("no stored plan")
            found: Plan = loads(data, self.resolve)
        except Exception:
            found = plan_kind(kind, self.index, name)
        return found

    def _roots(self, kind: Kind, name: str) -> Iterable[tuple[str, ir.Node]]:
        if kind == "metrics":
            if self._groups is None:
                self._groups = {k: tuple(v) for k, v in metric_groups(self.index).items()}
            return [("metric", self.index.metrics[m]) for m in self._groups[name]]
        if kind == "metric":
            return [("metric", self.index.metrics[name])]
        return [(kind, self.index.objects[kind][name])]

    def definitions(self, kind: Kind, name: str) -> str:
        """The hash of what is compiled (the members of a source group, or the object) and
        of the definitions of everything they refer to: the part of a query's key that is
        the same for every backend, made once."""
        found = self._definitions.get((kind, name))
        if found is None:
            entries: set[str] = set()
            members = []
            for root_kind, root in self._roots(kind, name):
                members.append(f"{root_kind}:{getattr(root, 'name', '')}")
                entries |= self.closure(root_kind, root)
            found = self._definitions[kind, name] = key(
                "\n".join(members), "\n".join(sorted(entries)),
                self.index.calendar.model_dump_json())
        return found

    def query(self, kind: Kind, name: str, backend: Backend,
              request: Request | None = None) -> str:
        """The cache key of one query."""
        # the backend is held with its JSON, so no other object can take its address
        definition = self._backends.setdefault(
            id(backend), (backend, backend.model_dump_json()))[1]
        return key("sql", self.fingerprint, definition, kind, name,
                   repr(request or Request()), self.definitions(kind, name))
