"""Formulas: how a metric is computed from named parts (measures, components, base metrics).

A small arithmetic tree, independent of SQL and of the IR, that the emitter turns into
sqlglot expressions and the analysis turns into stats formulas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar


@dataclass(frozen=True)
class Const:
    value: float


@dataclass(frozen=True)
class Part:
    """A named input: a measure column, a unit-level component or a base metric."""

    name: str


@dataclass(frozen=True)
class Bin:
    op: Literal["+", "-", "*", "/"]
    left: Formula
    right: Formula


@dataclass(frozen=True)
class Neg:
    operand: Formula


Formula = Const | Part | Bin | Neg
T = TypeVar("T")


def parts(formula: Formula) -> list[str]:
    """Names used by a formula, in first-use order.

    >>> parts(Bin("/", Part("a"), Bin("+", Part("b"), Part("a"))))
    ['a', 'b']
    """
    seen: dict[str, None] = {}

    def visit(f: Formula) -> None:
        if isinstance(f, Part):
            seen.setdefault(f.name)
        elif isinstance(f, Bin):
            visit(f.left)
            visit(f.right)
        elif isinstance(f, Neg):
            visit(f.operand)

    visit(formula)
    return list(seen)


def fold(formula: Formula, const: Callable[[float], T], part: Callable[[str], T],
         binary: Callable[[str, T, T], T], neg: Callable[[T], T]) -> T:
    """Evaluate a formula bottom-up with one function per node kind."""
    if isinstance(formula, Const):
        return const(formula.value)
    if isinstance(formula, Part):
        return part(formula.name)
    if isinstance(formula, Neg):
        return neg(fold(formula.operand, const, part, binary, neg))
    return binary(formula.op, fold(formula.left, const, part, binary, neg),
                  fold(formula.right, const, part, binary, neg))


def rename(formula: Formula, mapping: Callable[[str], Formula]) -> Formula:
    """Replace every part by another formula."""
    return fold(formula, Const, mapping, lambda op, a, b: Bin(op, a, b), Neg)  # type: ignore[arg-type]


def show(formula: Formula) -> str:
    """A readable rendering, for plans and docs.

    >>> show(Bin("-", Const(1.0), Part("retry_rate")))
    '1 - retry_rate'
    >>> show(Bin("*", Bin("+", Part("a"), Part("b")), Part("c")))
    '(a + b) * c'
    """
    def render(f: Formula, top: bool) -> str:
        if isinstance(f, Const):
            return f"{f.value:g}"
        if isinstance(f, Part):
            return f.name
        if isinstance(f, Neg):
            return f"-{render(f.operand, False)}"
        text = f"{render(f.left, False)} {f.op} {render(f.right, False)}"
        return text if top else f"({text})"

    return render(formula, True)
