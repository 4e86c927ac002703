"""Reading a YAML document into plain values that remember where they were written.

ruamel's parser turns the text into events; this module composes them itself, instead of
ruamel's composer and constructor, so that every hostile document is a diagnostic:

* anchors are shared, never copied: an alias is the same Python object as its anchor, and
  the values an alias stands for are counted; more than `MAX_ALIAS_VALUES` is MS111, so a
  "billion laughs" document of 200 bytes costs microseconds, not hours;
* nesting deeper than `MAX_DEPTH` levels (counting through aliases) is MS110, and nothing
  here recurses;
* an alias to the collection that contains it (`a: &a [*a]`, `a: &a {<<: *a}`) is MS111;
* merge keys (`<<: *defaults`, `<<: [*a, *b]`) are applied as YAML says — keys written in
  the mapping win, then the merged mappings in order — and merged keys keep the positions
  of the text they were written in (the anchor's);
* tags other than the core ones (`!!python/object`, `!foo`, `!! [4]`) are MS106; a key
  given twice is MS108; a list or mapping used as a key is MS106;
* plain scalars are resolved with the YAML 1.2 core schema (no `yes`/`no` booleans, no
  sexagesimal numbers), and dates stay text for the DSL grammar to read.

Positions come from character offsets, so they agree with the file's `\\n` lines whatever
other line breaks YAML recognises.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from metricspec import ir
from metricspec.diagnostics import Diagnostic, error
from metricspec.parse import yaml_events as events
from metricspec.parse.positions import line_starts
from metricspec.parse.yaml_values import (
    CORE,
    INVALID,
    Place,
    YMap,
    YSeq,
    resolve,
    short,
)

# No spec nests more than five levels; a hundred leaves room and stays far from any stack.
MAX_DEPTH = 100
# Values reachable through aliases, counted once per alias. Sharing defaults across a few
# thousand objects stays far below it; a "billion laughs" document crosses it at once.
MAX_ALIAS_VALUES = 100_000
# Values (scalars, aliases, lists, mappings) written in one file. The pure-Python YAML parser
# reads about 30,000 a second, so this bounds the time a file can take; the largest real
# spec files hold a few thousand.
MAX_VALUES = 50_000

class _Stop(Exception):
    """A problem after which the rest of the document is not read."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@dataclass
class _Node:
    value: Any
    place: Place
    size: int = 1      # values it stands for, itself included
    height: int = 0    # levels of lists and mappings inside it
    plain_merge: bool = False  # a plain `<<`, the merge key


@dataclass
class _Frame:
    node: _Node
    anchor: str | None
    key: _Node | None = None
    have_key: bool = False
    merges: list[_Node] = field(default_factory=list)


@dataclass
class Document:
    """The document's root value (None for an empty file) and what was wrong with it."""

    root: Any
    diagnostics: list[Diagnostic]


def read_yaml(text: str, file: str) -> Document:
    """Compose the single document of `text`, bounded in size, depth and aliasing (from
    libyaml's events when it reads the text without error, else from ruamel's)."""
    if events.fast_available():
        try:
            return _Composer(text, file).run(fast=True)
        except events.Slow:
            pass
    return _Composer(text, file).run()


class _Composer:
    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.starts = line_starts(text)
        self.diagnostics: list[Diagnostic] = []
        self.anchors: dict[str, _Node | None] = {}  # None: the anchored node is still open
        self.stack: list[_Frame] = []
        self.root: _Node | None = None
        self.expanded = 0

    # ------------------------------------------------------------ positions

    def position(self, index: int) -> tuple[int, int]:
        line = bisect_right(self.starts, index)
        return line, index - self.starts[line - 1] + 1

    def span(self, index: int, width: int = 1) -> ir.Span:
        line, column = self.position(index)
        return ir.Span.point(self.file, line, column, max(1, width))

    def place_of(self, event: Any, text: str | None = None) -> Place:
        start, end = event.start_mark.index, event.end_mark.index
        style = events.style(event) if isinstance(event, events.SCALAR) else None
        if style in ('"', "'"):
            start, end = start + 1, max(start + 1, end - 1)
        stop = end
        opens = isinstance(event, events.COLLECTION_START)
        if event.end_mark.line != event.start_mark.line or opens:
            newline = self.text.find("\n", start, end)
            stop = newline if newline >= 0 else end
            if opens:
                stop = start + 1
        line, column = self.position(start)
        return Place(line, column, max(1, stop - start), start, style, text)

    # ------------------------------------------------------------ the event loop

    def run(self, fast: bool = False) -> Document:
        """Compose the document; `fast`: from libyaml's events (raises `events.Slow` when
        libyaml stops, for the caller to read the text again with ruamel)."""
        stream: Iterator[Any] = iter(events.libyaml_events(self.text) if fast
                      else YAML(typ="safe", pure=True).parse(self.text))
        documents = values = 0
        try:
            while True:
                try:
                    event = next(stream)
                except StopIteration:
                    break
                except events.Slow:
                    raise
                except MarkedYAMLError as exc:
                    return Document(None, [*self.diagnostics, self.syntax_error(exc)])
                except Exception as exc:  # whatever else ruamel's parser raises on bad text
                    return Document(None, [*self.diagnostics, self.reader_error(exc)])
                if isinstance(event, events.DOCUMENT_START):
                    documents += 1
                    if documents > 1:
                        self.diagnostics.append(error(
                            "MS104", "a spec file holds one YAML document; a second starts here",
                            self.span(event.start_mark.index, 3),
                            "split the documents into files of their own"))
                        break
                    self.version(event)
                    continue
                values += isinstance(event, events.VALUE)
                if values > MAX_VALUES:
                    raise _Stop(error(
                        "MS100", f"this YAML file holds more than {MAX_VALUES:,} values",
                        self.span(event.start_mark.index), "split it into several files"))
                self.event(event)
        except _Stop as stop:
            return Document(None, [*self.diagnostics, stop.diagnostic])
        return Document(self.root.value if self.root else None, self.diagnostics)

    def version(self, event: Any) -> None:
        version = getattr(event, "version", None)
        if version and tuple(version) not in ((1, 1), (1, 2)):
            shown = ".".join(str(v) for v in version)
            self.diagnostics.append(error(
                "MS104", f"unsupported YAML version {shown}",
                self.span(event.start_mark.index, 5), "write `%YAML 1.2` or leave it out"))

    def event(self, event: Any) -> None:
        if isinstance(event, events.SCALAR):
            self.add(self.scalar(event))
        elif isinstance(event, events.ALIAS):
            self.add(self.alias(event))
        elif isinstance(event, events.COLLECTION_START):
            self.open(event)
        elif isinstance(event, events.COLLECTION_END):
            self.close()

    def open(self, event: Any) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise _Stop(error("MS110", f"this YAML nests more than {MAX_DEPTH} levels deep",
                              self.span(event.start_mark.index),
                              "flatten the nested lists and mappings"))
        place = self.place_of(event)
        is_map = isinstance(event, events.MAPPING_START)
        self.check_tag(event, "map" if is_map else "seq")
        node = _Node(YMap(place) if is_map else YSeq(place), place, height=1)
        anchor = getattr(event, "anchor", None)
        if anchor:
            self.anchors[anchor] = None
        self.stack.append(_Frame(node, anchor))

    def close(self) -> None:
        frame = self.stack.pop()
        node = frame.node
        if isinstance(node.value, YMap):
            self.merge(frame)
        if frame.anchor:
            self.anchors[frame.anchor] = node
        self.add(node)

    # ------------------------------------------------------------ values

    def scalar(self, event: Any) -> _Node:
        value_text = event.value
        plain = events.style(event) is None
        place = self.place_of(event, value_text)
        tag = self.check_tag(event, "scalar")
        value: Any = value_text
        if tag is None and plain:
            value = resolve(value_text)
        elif tag in ("int", "float", "bool", "null"):
            value = self.explicit(tag, value_text, place)
        node = _Node(value, place, plain_merge=value_text == "<<" and plain and tag is None)
        anchor = getattr(event, "anchor", None)
        if anchor:
            self.anchors[anchor] = node
        return node

    def explicit(self, tag: str, text: str, place: Place) -> Any:
        value = resolve(text)
        kinds = {"int": (int,), "float": (float, int), "bool": (bool,), "null": (type(None),)}
        ok = isinstance(value, kinds[tag]) and not (tag != "bool" and isinstance(value, bool))
        if not ok:
            self.diagnostics.append(error(
                "MS106", f"`{short(text)}` is not a valid !!{tag}",
                ir.Span.point(self.file, place.line, place.column, place.width)))
            return INVALID
        if tag == "float" and isinstance(value, int):
            try:
                return float(value)
            except OverflowError:
                return math.inf if value > 0 else -math.inf
        return value

    def alias(self, event: Any) -> _Node:
        name = str(getattr(event, "anchor", ""))
        span = self.span(event.start_mark.index, len(name) + 1)
        if name not in self.anchors:
            raise _Stop(error("MS104", f"unknown alias `*{short(name)}`", span,
                              f"define the anchor `&{short(name)}` before this alias"))
        node = self.anchors[name]
        if node is None:
            raise _Stop(error("MS111", f"the alias `*{short(name)}` refers to a list or "
                              "mapping that contains it", span,
                              "an anchor can only be used after it is complete"))
        if len(self.stack) + node.height > MAX_DEPTH:
            raise _Stop(error("MS110", f"this alias nests the YAML more than {MAX_DEPTH} "
                              "levels deep", span, "flatten the nested lists and mappings"))
        self.expanded += node.size
        if self.expanded > MAX_ALIAS_VALUES:
            raise _Stop(error("MS111", f"the aliases of this file stand for more than "
                              f"{MAX_ALIAS_VALUES:,} values", span,
                              "share settings through fewer or smaller anchors"))
        return _Node(node.value, node.place, node.size, node.height)

    def check_tag(self, event: Any, kind: str) -> str | None:
        """The core tag's short name (`int`, `map`…), or None for no tag; others are MS106."""
        raw = getattr(event, "tag", None)
        if raw is None:
            return None
        tag = str(getattr(raw, "value", raw))
        if tag == "!":
            return "str" if kind == "scalar" else None
        allowed = {"scalar": ("str", "int", "float", "bool", "null", "timestamp"),
                   "map": ("map",), "seq": ("seq",)}[kind]
        name = tag[len(CORE):] if tag.startswith(CORE) else None
        if name in allowed:
            return None if name in ("map", "seq", "timestamp") else name
        shown = "!!" + tag[len(CORE):] if tag.startswith(CORE) else tag
        what = {"scalar": "a value", "map": "a mapping", "seq": "a list"}[kind]
        self.diagnostics.append(error(
            "MS106", f"unsupported YAML tag `{short(shown)}` on {what}",
            self.span(event.start_mark.index, len(shown)),
            "remove the tag: a spec holds plain values, lists and mappings"))
        return None

    # ------------------------------------------------------------ building collections

    def add(self, node: _Node) -> None:
        if not self.stack:
            self.root = node
            return
        frame = self.stack[-1]
        parent = frame.node
        parent.size += node.size
        merged = frame.have_key and frame.key is not None and frame.key.plain_merge
        # Merged keys become the mapping's own: a merged mapping adds no level, and a list
        # of merged mappings takes one away.
        lift = (0 if isinstance(node.value, YMap) else -1) if merged else 1
        parent.height = max(parent.height, node.height + lift)
        if isinstance(parent.value, YSeq):
            parent.value.append(node.value)
            parent.value.item_places.append(node.place)
        elif not frame.have_key:
            frame.key, frame.have_key = node, True
        else:
            self.put(frame, node)

    def put(self, frame: _Frame, node: _Node) -> None:
        key, frame.key, frame.have_key = frame.key, None, False
        mapping = frame.node.value
        assert key is not None and isinstance(mapping, YMap)
        if key.plain_merge:
            frame.merges.append(node)
            return
        if isinstance(key.value, (YMap, YSeq)):
            kind = "mapping" if isinstance(key.value, YMap) else "list"
            self.diagnostics.append(error(
                "MS106", f"a {kind} cannot be a key", self.at(key.place),
                "keys are names: write a plain word"))
            return
        name = key.place.text if key.place.text is not None else ""
        if name in mapping:
            first = mapping.key_places[name]
            self.diagnostics.append(error(
                "MS108", f"`{short(name)}` is given twice in this mapping",
                ir.Span.point(self.file, key.place.line, key.place.column, len(name)),
                f"the first is at line {first.line}; keep one"))
            return
        mapping[name] = node.value
        mapping.key_places[name] = key.place
        mapping.value_places[name] = node.place

    def merge(self, frame: _Frame) -> None:
        """Apply `<<`: keys of the merged mappings the mapping does not set itself."""
        mapping = frame.node.value
        assert isinstance(mapping, YMap)
        for merged in frame.merges:
            sources = merged.value if isinstance(merged.value, YSeq) else [merged.value]
            places = (merged.value.item_places if isinstance(merged.value, YSeq)
                      else [merged.place])
            for source, place in zip(sources, places, strict=True):
                if not isinstance(source, YMap):
                    self.diagnostics.append(error(
                        "MS106", "`<<` merges a mapping or a list of mappings",
                        self.at(place), "e.g. `<<: *defaults` or `<<: [*a, *b]`"))
                    continue
                for key, value in source.items():
                    if key not in mapping:
                        mapping[key] = value
                        mapping.key_places[key] = source.key_places[key]
                        mapping.value_places[key] = source.value_places[key]

    def at(self, place: Place) -> ir.Span:
        return ir.Span.point(self.file, place.line, place.column, place.width)

    # ------------------------------------------------------------ errors from the parser

    def syntax_error(self, exc: MarkedYAMLError) -> Diagnostic:
        mark = exc.problem_mark or exc.context_mark
        line, column = self.position(mark.index) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        hint = None
        if exc.context and exc.context_mark and exc.problem_mark and (
                exc.context_mark.index != exc.problem_mark.index):
            where = self.position(exc.context_mark.index)
            hint = f"{exc.context}, which starts at line {where[0]}, column {where[1]}"
        return error("MS104", f"invalid YAML: {short(problem)}",
                     ir.Span.point(self.file, line, column), hint)

    def reader_error(self, exc: Exception) -> Diagnostic:
        position = getattr(exc, "position", None)
        index = position if isinstance(position, int) else 0
        line, column = self.position(min(max(index, 0), len(self.text)))
        detail = str(exc).strip().split("\n")[0] or type(exc).__name__
        return error("MS104", f"invalid YAML: {short(detail)}",
                     ir.Span.point(self.file, line, column))
