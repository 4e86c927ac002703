"""A small formula tree over component means, with exact forward-mode gradients.

A metric's value in one variant is a function f of the means of unit-level components:
a mean metric is ``Component("m.x")``, a ratio ``Component("m.x") / Component("m.y")``, a
composite any tree of these. The delta method needs f and its gradient at the observed
means; `Formula.forward` returns both in one pass (forward-mode differentiation).

>>> f = 0.5 * (Component("a.x") / Component("a.y")) + 0.5
>>> value, grad = f.forward({"a.x": 2.0, "a.y": 4.0})
>>> value, grad["a.x"], grad["a.y"]
(0.75, 0.125, -0.0625)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "Add",
    "Component",
    "Const",
    "Div",
    "Formula",
    "Mul",
    "Neg",
    "Sub",
    "mean_of",
    "ratio_of",
]

Gradient = dict[str, float]


class Formula:
    """Base class of formula nodes; supports ``+ - * /`` and unary minus with numbers."""

    __slots__ = ()

    def forward(self, means: Mapping[str, float]) -> tuple[float, Gradient]:
        """Return the value and the gradient (by component name) at ``means``.

        Raises:
            KeyError: A component is missing from ``means``.
            ZeroDivisionError: A denominator evaluates to zero.
        """
        raise NotImplementedError

    def evaluate(self, means: Mapping[str, float]) -> float:
        """Return the value at ``means``."""
        return self.forward(means)[0]

    def components(self) -> frozenset[str]:
        """Return the names of all components the formula reads."""
        raise NotImplementedError

    def substitute(self, mapping: Mapping[str, str]) -> Formula:
        """Return a copy with components renamed by ``mapping`` (others kept)."""
        raise NotImplementedError

    def __add__(self, other: Formula | float) -> Formula:
        return Add(self, _lift(other))

    def __radd__(self, other: float) -> Formula:
        return Add(_lift(other), self)

    def __sub__(self, other: Formula | float) -> Formula:
        return Sub(self, _lift(other))

    def __rsub__(self, other: float) -> Formula:
        return Sub(_lift(other), self)

    def __mul__(self, other: Formula | float) -> Formula:
        return Mul(self, _lift(other))

    def __rmul__(self, other: float) -> Formula:
        return Mul(_lift(other), self)

    def __truediv__(self, other: Formula | float) -> Formula:
        return Div(self, _lift(other))

    def __rtruediv__(self, other: float) -> Formula:
        return Div(_lift(other), self)

    def __neg__(self) -> Formula:
        return Neg(self)


def _lift(value: Formula | float) -> Formula:
    return value if isinstance(value, Formula) else Const(float(value))


def _combine(a: Gradient, wa: float, b: Gradient, wb: float) -> Gradient:
    out = {k: wa * v for k, v in a.items()}
    for k, v in b.items():
        out[k] = out.get(k, 0.0) + wb * v
    return out


@dataclass(frozen=True, slots=True)
class Component(Formula):
    """The mean over units of one named component, e.g. ``"csat.x"``."""

    name: str

    def forward(self, means: Mapping[str, float]) -> tuple[float, Gradient]:
        return means[self.name], {self.name: 1.0}

    def components(self) -> frozenset[str]:
        return frozenset((self.name,))

    def substitute(self, mapping: Mapping[str, str]) -> Formula:
        return Component(mapping.get(self.name, self.name))

    def __str__(self) -> str:
        return f"mean({self.name})"


@dataclass(frozen=True, slots=True)
class Const(Formula):
    """A constant."""

    value: float

    def forward(self, means: Mapping[str, float]) -> tuple[float, Gradient]:
        return self.value, {}

    def components(self) -> frozenset[str]:
        return frozenset()

    def substitute(self, mapping: Mapping[str, str]) -> Formula:
        return self

    def __str__(self) -> str:
        return f"{self.value:g}"


@dataclass(frozen=True, slots=True)
class _Binary(Formula):
    left: Formula
    right: Formula

    def components(self) -> frozenset[str]:
        return self.left.components() | self.right.components()

    def substitute(self, mapping: Mapping[str, str]) -> Formula:
        return type(self)(self.left.substitute(mapping), self.right.substitute(mapping))

    def _symbol(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return f"({self.left} {self._symbol()} {self.right})"


class Add(_Binary):
    """``left + right``."""

    __slots__ = ()

    def forward(self, means: Mapping[str, float]) -> tuple[float, Gradient]:
        (u, du), (v, dv) = self.left.forward(means), self.right.forward(means)
        return u + v, _combine(du, 1.0, dv, 1.0)

    def _symbol(self) -> str:
        return "+"


class Sub(_Binary):
    """``left − right``."""

    __slots__ = ()

    def forward(self, means: Mapping[str, float]) -> tuple[float, Gradient]:
        (u, du), (v, dv) = self.left.forward(means), self.right.forward(means)
        return u - v, _combine(du, 1.0, dv, -1.0)

    def _symbol(self) -> str:
        return "-"


class Mul(_Binary):
    """``left · right``."""

    __slots__ = ()

    def forward(self, means: Mapping[str, float]) -> tuple[float, Gradient]:
        (u, du), (v, dv) = self.left.forward(means), self.right.forward(means)
        return u * v, _combine(du, v, dv, u)

    def _symbol(self) -> str:
        return "*"


class Div(_Binary):
    """``left / right``; a zero denominator raises ZeroDivisionError."""

    __slots__ = ()

    def forward(self, means: Mapping[str, float]) -> tuple[float, Gradient]:
        (u, du), (v, dv) = self.left.forward(means), self.right.forward(means)
        q = u / v
        return q, _combine(du, 1.0 / v, dv, -q / v)

    def _symbol(self) -> str:
        return "/"


@dataclass(frozen=True, slots=True)
class Neg(Formula):
    """``−operand``."""

    operand: Formula

    def forward(self, means: Mapping[str, float]) -> tuple[float, Gradient]:
        u, du = self.operand.forward(means)
        return -u, {k: -v for k, v in du.items()}

    def components(self) -> frozenset[str]:
        return self.operand.components()

    def substitute(self, mapping: Mapping[str, str]) -> Formula:
        return Neg(self.operand.substitute(mapping))

    def __str__(self) -> str:
        return f"-{self.operand}"


def mean_of(metric: str) -> Formula:
    """Return the formula of a mean (or proportion) metric: ``mean(<metric>.x)``."""
    return Component(f"{metric}.x")


def ratio_of(metric: str) -> Formula:
    """Return the formula of a ratio metric: ``mean(<metric>.x) / mean(<metric>.y)``."""
    return Div(Component(f"{metric}.x"), Component(f"{metric}.y"))
