"""Parenthesise operator trees by precedence before rendering.

sqlglot renders a tree exactly as built: `Div(a, Mul(b, c))` becomes `a / b * c`, which
every warehouse reads as `(a / b) * c`. Builders therefore should not have to remember
parentheses; this pass adds them wherever a child binds less tightly than its parent, or
equally tightly on the right of a non-associative operator.
"""

from __future__ import annotations

from sqlglot import exp

_LEVELS: tuple[tuple[type[exp.Expr], ...], ...] = (
    (exp.Or,),
    (exp.And,),
    (exp.Not,),
    (
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.Is,
        exp.Like,
        exp.ILike,
        exp.In,
        exp.Between,
        exp.NullSafeEQ,
        exp.NullSafeNEQ,
    ),
    (exp.Add, exp.Sub, exp.DPipe),
    (exp.Mul, exp.Div, exp.Mod, exp.IntDiv),
    (exp.Neg,),
)


_BY_TYPE: dict[type, int | None] = {}


def precedence(node: exp.Expr) -> int | None:
    """How tightly an operator binds (higher binds tighter); None for atoms and calls.

    >>> precedence(exp.Add(this=exp.column("a"), expression=exp.column("b")))
    5
    """
    kind = type(node)
    if kind not in _BY_TYPE:
        _BY_TYPE[kind] = next(
            (level for level, kinds in enumerate(_LEVELS, start=1) if issubclass(kind, kinds)),
            None,
        )
    return _BY_TYPE[kind]


def preorder(tree: exp.Expr) -> list[exp.Expr]:
    """Every node of `tree`, each before the nodes below it: one walk that the passes before
    rendering share (sqlglot's own walks are generators, several times slower).

    >>> add = exp.Add(this=exp.column("a"), expression=exp.Literal.number(1))
    >>> [type(n).__name__ for n in preorder(add)]
    ['Add', 'Literal', 'Column', 'Identifier']
    """
    order: list[exp.Expr] = []
    stack = [tree]
    expr = exp.Expr
    while stack:
        node = stack.pop()
        order.append(node)
        for value in node.args.values():
            if type(value) is list:
                stack.extend(v for v in value if isinstance(v, expr))
            elif isinstance(value, expr):
                stack.append(value)
    return order


def parenthesize(tree: exp.Expr, nodes: list[exp.Expr] | None = None) -> exp.Expr:
    """Wrap operands in parentheses where precedence requires it (in place).

    >>> a, b, c = exp.column("a"), exp.column("b"), exp.column("c")
    >>> parenthesize(exp.Div(this=a, expression=exp.Mul(this=b, expression=c))).sql()
    'a / (b * c)'
    >>> parenthesize(exp.Mul(this=exp.Add(this=a.copy(), expression=b.copy()),
    ...                      expression=c.copy())).sql()
    '(a + b) * c'
    """
    wrap: list[exp.Expr] = []
    operators = (exp.Binary, exp.Unary)
    for node in (preorder(tree) if nodes is None else nodes):
        if not isinstance(node, operators):
            continue
        parent = node.parent
        if parent is None or isinstance(parent, exp.Paren):
            continue
        inner, outer = precedence(node), precedence(parent)
        if inner is None or outer is None:
            continue
        if inner < outer or (
            inner == outer and node.arg_key == "expression" and isinstance(parent, exp.Binary)
        ):
            wrap.append(node)
    # The operand itself moves into the parentheses (no copy: a copy costs a walk of it).
    for operand in wrap:
        paren = exp.Paren()
        operand.replace(paren)
        paren.set("this", operand)
    return tree
