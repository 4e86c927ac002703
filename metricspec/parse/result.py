"""What parsing one spec file gives, in a module of its own: a project read back from the
compile cache is made of these, and reading it imports neither front end (nor Lark)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metricspec.diagnostics import Diagnostic


@dataclass
class ParseResult:
    """What one file gave: its objects, its diagnostics, and the names of statements that
    failed to parse (so later stages do not also call them unknown)."""

    objects: list[Any] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    broken: set[tuple[str, str]] = field(default_factory=set)
