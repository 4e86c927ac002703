"""`check_backends`: the rules that read the chosen backends, run again for a project `check`
accepted (what `run`, `query` and `sql` add for their engine), find what `check --dialect`
adds to a plain `check`."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from metricspec.backends import all_backends, resolve_dialects
from metricspec.check import BACKEND_RULES, RULES, check, check_backends
from metricspec.diagnostics import Diagnostic
from metricspec.parse import load

HERE = Path(__file__).parent
CASES = sorted(p for p in (HERE / "broken").iterdir() if p.is_file() and re.search(
    r"^#\s*dialect:", p.read_text(errors="replace"), re.M))  # as test_spec_corpus reads it


def _keys(found: list[Diagnostic]) -> set[tuple[str, str, int, int, str]]:
    return {(d.code, d.span.file, d.span.line, d.span.column, d.message) for d in found}


def _reads_backends(function: Callable[..., object], seen: set[str]) -> bool:
    """Whether `function`, or a function of its module it calls, reads `ctx.backends`."""
    text = inspect.getsource(function)
    if "ctx.backends" in text:
        return True
    module = inspect.getmodule(function)
    for name, value in vars(module).items():
        if (inspect.isfunction(value) and value.__module__ == function.__module__
                and name not in seen and re.search(rf"\b{name}\(", text)):
            seen.add(name)
            if _reads_backends(value, seen):
                return True
    return False


def test_every_rule_that_reads_the_backends_is_a_backend_rule() -> None:
    reading = {rule for rule in RULES if _reads_backends(rule, {rule.__name__})}
    assert reading == set(BACKEND_RULES)


@pytest.mark.parametrize("case", [*CASES, HERE.parents[1] / "specs"], ids=lambda p: p.name)
def test_what_a_dialect_adds_is_what_the_backend_rules_find(case: Path) -> None:
    assert len(CASES) >= 3, "the corpus has cases checked for a dialect"
    loaded = load([case])
    plain = _keys(check(loaded.project, broken=loaded.broken))
    for backend in all_backends().values():
        chosen = _keys(check(loaded.project, broken=loaded.broken, backends=[backend]))
        assert chosen - plain <= _keys(check_backends(loaded.project, [backend])), backend.name
    every = resolve_dialects(["all"])
    assert _keys(check(loaded.project, backends=every)) - _keys(check(loaded.project)) <= (
        _keys(check_backends(loaded.project, every)))
