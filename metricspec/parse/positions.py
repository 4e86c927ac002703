"""Where the characters of a YAML scalar sit in its file.

The YAML front end parses a scalar's *value* (`expr: count(s where x > 1)`) with the DSL
grammar. The value is not always a verbatim copy of the file: block scalars lose their
indentation, folded and multi-line plain scalars turn line breaks into spaces, quoted scalars
resolve escapes (`\\"`, `''`). `ScalarMap` lines the value up with the raw text once, so every
position the parser reports can be turned back into the file's line and column.
"""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache

Position = tuple[int, int]

_ESCAPE_LENGTH = {"x": 4, "u": 6, "U": 10}


def align(raw: str, start: int, value: str, quote: str | None) -> list[int]:
    """For each character of `value`, and one past its end, its offset in `raw`.

    `value` is read from `raw` starting at offset `start`; `quote` is the scalar's quote
    character (`"` or `'`) or None for plain and block scalars. The value and the raw text
    differ only in whitespace and, for quoted scalars, escapes, so a greedy walk lines them up.

    >>> align('k: "a\\\\"b"', 4, 'a"b', '"')
    [4, 5, 7, 8]
    >>> align("k: a\\n   b", 3, "a b", None)
    [3, 4, 8, 9]
    """
    out: list[int] = []
    r = start
    n = len(raw)
    for ch in value:
        while r < n:
            here = raw[r]
            if quote == '"' and here == "\\" and ch != "\n":
                if r + 1 < n and raw[r + 1] == "\n":  # a line continuation adds nothing
                    r += 2
                    continue
                out.append(r)
                r += _ESCAPE_LENGTH.get(raw[r + 1] if r + 1 < n else "", 2)
                break
            if quote == "'" and ch == "'" and raw.startswith("''", r):
                out.append(r)
                r += 2
                break
            if here == ch or (ch.isspace() and here.isspace()):
                out.append(r)
                r += 1
                break
            if here.isspace():  # indentation the value does not keep
                r += 1
                continue
            out.append(r)  # something unexpected: keep going one for one
            r += 1
            break
        else:
            out.append(min(r, n))
    out.append(min(r, n))
    return out


@lru_cache(maxsize=16)
def line_starts(raw: str) -> list[int]:
    """Offsets where each line of `raw` starts (computed once per file: a file has many
    scalars, and Python caches a string's hash)."""
    return [0] + [i + 1 for i, c in enumerate(raw) if c == "\n"]


class ScalarMap:
    """Turns positions in a scalar's value into positions in its file.

    Args:
        raw: the whole file text.
        start: offset in `raw` where the value's first character is read from.
        value: the scalar's value as the YAML loader returned it.
        quote: `"` or `'` for quoted scalars, None otherwise.
    """

    def __init__(self, raw: str, start: int, value: str, quote: str | None) -> None:
        self.value = value
        self._line_starts = line_starts(raw)
        self._value_starts = [0] + [i + 1 for i, c in enumerate(value) if c == "\n"]
        self._offsets = align(raw, start, value, quote)

    def shifted(self, skip: int) -> ScalarMap:
        """The map of `value[skip:]` (after a leading word the caller consumed)."""
        clone = object.__new__(ScalarMap)
        clone.value = self.value[skip:]
        clone._line_starts = self._line_starts
        clone._value_starts = [0] + [i + 1 for i, c in enumerate(clone.value) if c == "\n"]
        clone._offsets = self._offsets[skip:]
        return clone

    def position(self, offset: int) -> Position:
        """The file's (line, column) of the value's character at `offset` (1-based)."""
        raw_offset = self._offsets[max(0, min(offset, len(self._offsets) - 1))]
        line = bisect_right(self._line_starts, raw_offset)
        return line, raw_offset - self._line_starts[line - 1] + 1

    def end_position(self, offset: int) -> Position:
        """The file position just after the value's character at `offset - 1`."""
        if offset <= 0:
            return self.position(0)
        line, column = self.position(offset - 1)
        return line, column + 1

    def offset(self, line: int, column: int) -> int:
        """The value offset of a 1-based (line, column) within the value's own text."""
        index = max(0, min(line, len(self._value_starts)) - 1)
        return max(0, min(self._value_starts[index] + column - 1, len(self.value)))

    def locate(self, line: int, column: int, end: bool = False) -> Position:
        """Map a (line, column) in the value's text to the file; `end` for exclusive ends."""
        offset = self.offset(line, column)
        return self.end_position(offset) if end else self.position(offset)

    def runs(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """`value[start:end]` as runs of characters that sit side by side on one line of the
        file: (line, column, length) each, in order, covering every character once."""
        out: list[tuple[int, int, int]] = []
        for offset in range(start, end):
            line, column = self.position(offset)
            if out and out[-1][0] == line and out[-1][1] + out[-1][2] == column:
                out[-1] = (line, out[-1][1], out[-1][2] + 1)
            else:
                out.append((line, column, 1))
        return out
