"""The events of a YAML text, from libyaml when PyYAML was built with it.

`yaml_nodes` composes events into values. ruamel's pure-Python parser took three quarters of
the time spent reading a YAML spec file (about 30,000 values a second); libyaml, through
PyYAML's `CParser`, reads the same text ten times faster and gives the same events with the
same character offsets. Only a text libyaml reads to the end without a complaint is read
this way: on any error it raises `Slow`, and the file is read again with ruamel, whose
messages and positions are the diagnostics (so a broken file is reported exactly as before).
Where the two were found to differ on a differential run over the test corpora and thousands
of mutations of them, the text goes to ruamel too: the characters of `_RUAMEL_ONLY`, an
empty value (`key:` with nothing after it, which libyaml places after the colon and ruamel
at the next token), and an anchor or alias not followed by a space.

The event classes of both libraries are matched by the tuples below; libyaml writes a plain
scalar's style as `''` where ruamel writes None (`style` normalises it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ruamel.yaml import events as ruamel_events

try:  # PyYAML, and libyaml in it, are optional: without them ruamel reads every file
    import yaml as _pyyaml
    from yaml import events as _c_events

    _CParser: Any = _pyyaml.CBaseLoader  # libyaml's parser, with no constructor used
except (ImportError, AttributeError):  # pragma: no cover - depends on how PyYAML was built
    _CParser = None


# Tabs (libyaml accepts them inside plain scalars and flow collections, ruamel does not),
# the YAML 1.1 line breaks NEL, LS and PS, and a byte order mark inside the text.
_RUAMEL_ONLY = re.compile("[\t\x85\u2028\u2029\ufeff]")


class Slow(Exception):
    """libyaml stopped on this text: read it again with ruamel, for its diagnostics."""


def _both(name: str) -> Any:
    ours = getattr(ruamel_events, name)
    return (ours, getattr(_c_events, name)) if _CParser is not None else (ours,)


SCALAR = _both("ScalarEvent")
ALIAS = _both("AliasEvent")
MAPPING_START = _both("MappingStartEvent")
SEQUENCE_START = _both("SequenceStartEvent")
COLLECTION_START = MAPPING_START + SEQUENCE_START
COLLECTION_END = _both("MappingEndEvent") + _both("SequenceEndEvent")
DOCUMENT_START = _both("DocumentStartEvent")
VALUE = SCALAR + ALIAS + COLLECTION_START


def fast_available() -> bool:
    """Whether PyYAML's libyaml parser can be used here."""
    return _CParser is not None


def libyaml_events(text: str) -> Iterator[Any]:
    """The events of `text` from libyaml; any error it reports is raised as `Slow`."""
    if _RUAMEL_ONLY.search(text):
        raise Slow("a character the two parsers read differently")
    events = _pyyaml.parse(text, Loader=_CParser)
    while True:
        try:
            event = next(events)
        except StopIteration:
            return
        except Exception as exc:  # a YAML error, or any other libyaml refusal
            raise Slow(str(exc)) from exc
        if isinstance(event, _c_events.ScalarEvent) and not event.value and not event.style:
            raise Slow("an empty value")
        if isinstance(event, _c_events.AliasEvent) or getattr(event, "anchor", None):
            _whole_name(text, event.start_mark.index, event.anchor)
        yield event


def _whole_name(text: str, start: int, name: str) -> None:
    """Raise `Slow` unless the anchor or alias at `start` (`&name`, `*name`) ends at a space
    or the end of the text: libyaml ends a name at the first character that is not a letter,
    digit, `_` or `-`, ruamel at a space (`*a:b` is `a` to one and `a:b` to the other)."""
    end = start + 1 + len(name)
    if text[start:start + 1] not in ("&", "*") or text[start + 1:end] != name or (
            end < len(text) and not text[end].isspace()):
        raise Slow("an anchor or alias")


def style(event: Any) -> str | None:
    """The scalar's style: None for plain, else `'`, `"`, `|` or `>`."""
    return getattr(event, "style", None) or None
