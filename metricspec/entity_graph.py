"""The entity graph: which sources join to which, and where a dimension reference leads.

A source's entity declared `primary` makes it a dimension table for that key: one row per
key (per validity interval, for a slowly changing dimension). Every other source holding
the same entity (undeclared or `foreign`) has a many-to-one edge to it. Dimensions are
reached along these edges only, through any number of hops, so joining them can never
multiply a fact's rows.

A reference is a dotted name: `plan` (short: the source's own column, else the one
reachable dimension of that name), the whole path by key or table names (`user_id.plan`,
`users.plan`, `conversation_id.user_id.plan`, `conversations.users.plan`), or, when no path
is named so in full, the dimension table's name for any path to it (`accounts.tier` from
messages, two hops away). `resolve` returns the path, or
a `JoinProblem` naming the paths found and how to choose one; `check.joins` turns problems
into diagnostics, and the planner and emitter follow paths it accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from metricspec import ir

#: Longest path followed; deeper chains are surely a modelling mistake.
MAX_HOPS = 8
#: Most paths enumerated from one source (a densely connected project stops here rather
#: than making `check` enumerate every route).
MAX_PATHS = 5_000


@dataclass(frozen=True)
class Edge:
    """A many-to-one edge: `source.key` (many rows) to `target.key` (its primary key)."""

    source: str
    key: str
    target: str

    def __str__(self) -> str:
        return f"{self.source}.{self.key} -> {self.target}"


@dataclass(frozen=True)
class JoinPath:
    """A dimension reached from a source: the edges followed, then the column read."""

    edges: tuple[Edge, ...]
    column: str

    @property
    def target(self) -> str:
        return self.edges[-1].target

    @property
    def qualified(self) -> str:
        """The reference that names this path exactly: its keys, then the column."""
        return ".".join([*(e.key for e in self.edges), self.column])

    @property
    def route(self) -> str:
        """`messages -user_id-> users`, for messages."""
        text = self.edges[0].source
        for edge in self.edges:
            text += f" -{edge.key}-> {edge.target}"
        return f"{text} ({self.column})"


@dataclass(frozen=True)
class JoinProblem:
    """Why a reference leads nowhere, or to several places: a check code and its words."""

    code: str
    message: str
    hint: str | None = None


class EntityGraph:
    """The many-to-one edges between a project's sources."""

    def __init__(self, sources: Mapping[str, ir.Source]) -> None:
        self.sources = dict(sources)
        primary: dict[str, list[str]] = {}
        for source in self.sources.values():
            for entity in source.entities:
                if entity.role == "primary":
                    primary.setdefault(entity.name, []).append(source.name)
        self.primary = primary
        self._paths: dict[str, list[JoinPath]] = {}
        self.edges: dict[str, tuple[Edge, ...]] = {}
        for source in self.sources.values():
            self.edges[source.name] = tuple(
                Edge(source.name, entity.name, target)
                for entity in source.entities if entity.role != "primary"
                for target in primary.get(entity.name, ()) if target != source.name)

    # ------------------------------------------------------------------ paths

    def paths(self, source: str) -> list[JoinPath]:
        """Every dimension reachable from `source`, by every simple path, shortest first
        (at most `MAX_PATHS` of them)."""
        if source not in self._paths:
            self._paths[source] = self._walk(source)
        return self._paths[source]

    def _walk(self, source: str) -> list[JoinPath]:
        found: list[JoinPath] = []
        frontier: list[tuple[Edge, ...]] = [(e,) for e in self.edges.get(source, ())]
        while frontier and len(found) < MAX_PATHS:
            following: list[tuple[Edge, ...]] = []
            for edges in frontier:
                target = self.sources[edges[-1].target]
                found.extend(JoinPath(edges, name) for name in dimension_names(target))
                if len(edges) < MAX_HOPS:
                    seen = {source, *(e.target for e in edges)}
                    following.extend((*edges, e) for e in self.edges.get(target.name, ())
                                     if e.target not in seen)
            frontier = following[:MAX_PATHS]
        return found[:MAX_PATHS]

    def names(self, source: str) -> set[str]:
        """The keys and tables on the paths from `source`: what may qualify a reference."""
        return {n for p in self.paths(source) for e in p.edges for n in (e.key, e.target)}

    def resolve(self, source: str, reference: str) -> JoinPath | JoinProblem | None:
        """Where `reference`, written in a query or filter of `source`, leads: None for the
        source's own column, a path, or a problem."""
        parts = reference.split(".")
        home = self.sources[source]
        if len(parts) == 1 and parts[0] in dimension_names(home, entities=True):
            return None
        if len(parts) == 2 and parts[0] == source and parts[1] in dimension_names(
                home, entities=True):
            return None
        column, qualifiers = parts[-1], parts[:-1]
        candidates = [p for p in self.paths(source) if p.column == column]
        # a path named in full (a key or table per edge) wins over the terminal-table form
        chosen = [p for p in candidates if _named(p, qualifiers)] or [
            p for p in candidates if _matches(p, qualifiers)]
        if len(chosen) == 1:
            return chosen[0]
        if len(chosen) > 1:
            listed = "; ".join(f"`{p.qualified}` ({p.route})" for p in chosen)
            return JoinProblem(
                "MS430", f"`{reference}` is ambiguous from `{source}`: {len(chosen)} join "
                f"paths lead to it: {listed}",
                f"name the path, e.g. `{chosen[0].qualified}`")
        return self._unreachable(source, reference, column, qualifiers, candidates)

    def _unreachable(self, source: str, reference: str, column: str, qualifiers: list[str],
                     candidates: list[JoinPath]) -> JoinProblem:
        if candidates:
            listed = ", ".join(f"`{p.qualified}`" for p in candidates[:4])
            return JoinProblem("MS206", f"no join path from `{source}` matches `{reference}`",
                               f"the paths to `{column}` are {listed}")
        fanning = self._fan_out(source, column, qualifiers)
        if fanning is not None:
            return fanning
        reachable = sorted({p.qualified if len(p.edges) > 1 else f"{p.target}.{p.column}"
                            for p in self.paths(source)})
        hint = (f"reachable dimensions: {', '.join(reachable[:8])}" if reachable else
                f"`{source}` joins no dimension table: declare a key `primary` in the "
                "source that holds one row per key")
        return JoinProblem("MS206", f"`{reference}` is not a dimension of `{source}` or of a "
                           "table it joins to", hint)

    def _fan_out(self, source: str, column: str, qualifiers: list[str]) -> JoinProblem | None:
        """A source holding `column` that shares a key with `source` but is not reached
        many-to-one: joining it would repeat the facts' rows."""
        home = self.sources[source]
        keys = {e.name: e.role for e in home.entities}
        for other in self.sources.values():
            if other.name == source or column not in dimension_names(other):
                continue
            if qualifiers and qualifiers[-1] != other.name:
                continue
            for entity in other.entities:
                if entity.name not in keys:
                    continue
                if keys[entity.name] == "primary" and entity.role != "primary":
                    return JoinProblem(
                        "MS431", f"`{other.name}.{column}` is reached from `{source}` through "
                        f"a one-to-many join on `{entity.name}` (`{other.name}` holds many rows "
                        f"per `{entity.name}`): joining it would repeat `{source}`'s rows",
                        f"aggregate `{other.name}` in a metric of its own, or group "
                        f"`{other.name}`'s metrics by `{source}`'s dimensions instead")
                if entity.role != "primary":
                    return JoinProblem(
                        "MS431", f"`{other.name}.{column}` is reached from `{source}` through "
                        f"a many-to-many join on `{entity.name}` (neither side holds one row "
                        f"per `{entity.name}`)",
                        f"declare `{entity.name}` primary in the source holding one row per "
                        f"`{entity.name}`, and read the dimension from there")
        return None

    # ------------------------------------------------------------------ the graph as data

    def cycles(self) -> list[tuple[Edge, ...]]:
        """Each cycle of edges once, found from its alphabetically first source."""
        out: list[tuple[Edge, ...]] = []
        for start in sorted(self.sources):
            stack: list[tuple[Edge, ...]] = [(e,) for e in self.edges[start]]
            budget = MAX_PATHS  # routes walked from one start: a dense graph stops early
            while stack and budget and len(out) < 100:
                budget -= 1
                edges = stack.pop()
                last = edges[-1].target
                if last == start:
                    out.append(edges)
                    continue
                if last < start or last in {e.source for e in edges} or len(edges) > MAX_HOPS:
                    continue
                stack.extend((*edges, e) for e in self.edges[last])
        return out

    def data(self) -> dict[str, object]:
        """The graph as plain data (the docs site and its drawing): each source with its
        keys and whether it is a dimension table, and each many-to-one edge."""
        entities = [{
            "source": s.name,
            "primary": [e.name for e in s.entities if e.role == "primary"],
            "foreign": [e.name for e in s.entities if e.role != "primary"],
            "dimensions": list(dimension_names(s)),
            "slowly_changing": s.valid_from is not None,
        } for s in sorted(self.sources.values(), key=lambda s: s.name)]
        edges = [{"from": e.source, "key": e.key, "to": e.target, "cardinality": "many-to-one"}
                 for name in sorted(self.edges) for e in self.edges[name]]
        return {"entities": entities, "edges": edges}


def dimension_names(source: ir.Source, *, entities: bool = False) -> tuple[str, ...]:
    """What a reference may read in a source: its dimensions and derived dimensions, and
    its entities (for the source itself) or its time column (for a joined table, so that a
    derived dimension can compare a user's signup with the event's time)."""
    names = [c.name for c in source.dimensions] + [d.name for d in source.derived]
    if entities:
        names += [c.name for c in source.entities]
    elif source.time is not None:
        names.append(source.time.name)
    return tuple(dict.fromkeys(names))


def joins_to(graph: EntityGraph, source: str, reference: str) -> bool:
    """Whether a reference leaves `source` for another table (a path, or a problem worse
    than "no such dimension", which `check.joins` reports)."""
    resolved = graph.resolve(source, reference)
    return isinstance(resolved, JoinPath) or (
        isinstance(resolved, JoinProblem) and resolved.code != "MS206")


def _named(path: JoinPath, qualifiers: list[str]) -> bool:
    """One qualifier per edge, each the edge's key or its table."""
    return bool(qualifiers) and len(qualifiers) == len(path.edges) and all(
        q in (e.key, e.target) for q, e in zip(qualifiers, path.edges, strict=True))


def _matches(path: JoinPath, qualifiers: list[str]) -> bool:
    """`plan`: any path; `users.plan`: any path ending at `users`; otherwise one name per
    edge, each the edge's key or its table."""
    if not qualifiers:
        return True
    if len(qualifiers) == 1 and qualifiers[0] == path.target:
        return True
    return len(qualifiers) == len(path.edges) and all(
        q in (e.key, e.target) for q, e in zip(qualifiers, path.edges, strict=True))


def output_name(reference: str) -> str:
    """The column a reached dimension is given in results: the reference, dots as `_`."""
    return reference.replace(".", "_")
