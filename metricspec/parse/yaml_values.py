"""The values a YAML spec file is read into: mappings and lists that remember where each
key, value and item was written, and plain scalars resolved with the YAML 1.2 core schema."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Python refuses to turn longer digit strings into ints; such a number stays text.
_MAX_INT_DIGITS = 4000

CORE = "tag:yaml.org,2002:"
_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
         "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
                    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")


@dataclass(frozen=True, slots=True)
class Place:
    """Where a key, value or item was written.

    `line`/`column` (1-based) point at its first character (inside the quotes of a quoted
    scalar, at the `|`/`>` of a block scalar); `index` is that character's offset in the
    text; `width` is how far it runs on that line; `text` is a scalar as written (after
    quotes and escapes), None for lists and mappings.
    """

    line: int
    column: int
    width: int
    index: int
    style: str | None = None
    text: str | None = None


class YMap(dict[str, Any]):
    """A YAML mapping: keys are the text they were written as; each key and value has a
    `Place`. Shown as `<mapping>`: printing never expands what aliases share."""

    def __init__(self, place: Place) -> None:
        super().__init__()
        self.place = place
        self.key_places: dict[str, Place] = {}
        self.value_places: dict[str, Place] = {}

    def __repr__(self) -> str:
        return f"<mapping at line {self.place.line}>"

    __str__ = __repr__

    def copy_with(self, key: str, new_key: str) -> YMap:
        """A copy in which `key` is also readable as `new_key` (at the same places)."""
        out = YMap(self.place)
        out.update(self)
        out.key_places.update(self.key_places)
        out.value_places.update(self.value_places)
        out[new_key] = self[key]
        out.key_places[new_key] = self.key_places[key]
        out.value_places[new_key] = self.value_places[key]
        return out


class YSeq(list[Any]):
    """A YAML sequence; `item_places[i]` says where item `i` was written."""

    def __init__(self, place: Place) -> None:
        super().__init__()
        self.place = place
        self.item_places: list[Place] = []

    def __repr__(self) -> str:
        return f"<list at line {self.place.line}>"

    __str__ = __repr__


class Invalid:
    """A value already reported as wrong (`!!int abc`): readers skip it without a second
    diagnostic."""

    def __repr__(self) -> str:
        return "<invalid>"


INVALID = Invalid()


def resolve(text: str) -> Any:
    """A plain scalar's value under the YAML 1.2 core schema; dates stay text."""
    if _NULL.fullmatch(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text):
        if len(text) > _MAX_INT_DIGITS:
            return text
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text)
    if _FLOAT.fullmatch(text):
        lowered = text.lower()
        if lowered.endswith((".inf", ".nan")):
            return float(lowered.replace(".", ""))
        return float(text)
    return text


def short(text: str, limit: int = 60) -> str:
    """Text for a message: one line, at most `limit` characters."""
    one = text.replace("\n", " ")
    return one if len(one) <= limit else one[:limit - 1] + "…"
