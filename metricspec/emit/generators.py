"""sqlglot's generators, minus the SELECT rewrites that cannot apply to metricspec's trees.

Before it writes each SELECT, sqlglot's generators for some dialects (Snowflake, BigQuery,
Trino) run rewrites that
translate constructs of other dialects (`EXPLODE` projections, `UNNEST` sources, BigQuery's
`GENERATE_DATE_ARRAY`). Several analyse the SELECT's scope to find out that there is nothing
to do, and the long-format experiment queries are UNIONs of dozens of SELECTs: that analysis
was most of their rendering time. Each rewrite left out here changes nothing unless the SELECT
holds a node of `TRIGGERS` (read from sqlglot's source, each named below):

* `_explode_projection_to_unnest`: a projection holding an `Explode` (or `Posexplode`);
* `unqualify_unnest`, `_qualify_unnested_columns`, `_eliminate_dot_variant_lookup`: an
  `Unnest` among the sources;
* `_transform_generate_date_array`: a `GenerateDateArray`.

The kept rewrites (DISTINCT ON, named windows, SEMI/ANTI joins, ...) cost next to nothing and
still run. `generate` walks the tree once, before writing it, for the SELECTs with no such node
below them (a source query a user wrote may hold one; metricspec's own time spine does): only
those are written without the left-out rewrites. A SELECT's own WITH does not count (each CTE
is a scope of its own, judged when it is written); a SELECT sqlglot builds while writing (a
rewrite or a function's spelling may) is not one of them, so it gets every rewrite; and a tree
holding a `GenerateDateArray` (whose rewrite looks through whole subtrees) is written by the
dialect's own generator. The text is the same either way (the SQL goldens hold it byte for
byte).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cache
from typing import Any

from sqlglot import exp, transforms
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel
from sqlglot.generator import Generator

TRIGGERS: tuple[type[exp.Expr], ...] = (
    exp.Explode, exp.ExplodeOuter, exp.Unnest, exp.GenerateDateArray, exp.GenerateSeries,
)
LEFT_OUT = frozenset({
    "_explode_projection_to_unnest", "unqualify_unnest", "_qualify_unnested_columns",
    "_eliminate_dot_variant_lookup", "_transform_generate_date_array",
})

Handler = Callable[[Generator, exp.Expr], str]


def generate(tree: exp.Expr, dialect_name: str, nodes: list[exp.Expr] | None = None,
             before: Callable[[], object] | None = None) -> str:
    """Pretty SQL for `tree` (mutated, as sqlglot's generator does with `copy=False`).
    `nodes`: the tree's nodes, each before those below it, when the caller has walked it;
    `before`: a change to make to the tree once its clean SELECTs are found (the SELECTs it
    holds do not change)."""
    dialect = Dialect.get_or_raise(dialect_name)
    lean = _lean_class(dialect_name)
    clean = clean_selects(tree, nodes) if lean is not None else None
    if before is not None:
        before()
    if lean is None or clean is None:
        return dialect.generate(tree, copy=False, pretty=True,
                                unsupported_level=ErrorLevel.RAISE)
    generator = lean(dialect=dialect, pretty=True, unsupported_level=ErrorLevel.RAISE)
    generator.own_selects = clean
    return str(generator.generate(tree, copy=False))


def clean_selects(tree: exp.Expr,
                  nodes: list[exp.Expr] | None = None) -> dict[int, exp.Expr] | None:
    """The SELECTs of `tree` with no node of `TRIGGERS` below them, apart from inside their own
    WITH, by id (the nodes are held, so no id can be reused by a node made while writing);
    None when the tree holds a `GenerateDateArray`. sqlglot may move nested CTEs to the top
    before writing: a SELECT found clean here only loses nodes by that."""
    tainted: set[int] = set()  # nodes with a trigger somewhere below (or themselves)
    own_clean: set[int] = set()  # SELECTs whose only triggers are in their own WITH
    clean: dict[int, exp.Expr] = {}
    for node in reversed(nodes if nodes is not None else list(tree.dfs())):
        key = id(node)
        if isinstance(node, exp.Select) and key not in tainted:
            clean[key] = node
        if key in tainted or key in own_clean or isinstance(node, TRIGGERS):
            if isinstance(node, exp.GenerateDateArray):
                return None
            parent = node.parent
            if parent is None:
                continue
            if isinstance(node, exp.With) and isinstance(parent, exp.Select):
                own_clean.add(id(parent))
            else:
                tainted.add(id(parent))
    return clean


@cache
def _lean_class(dialect_name: str) -> type[Any] | None:
    """The dialect's generator class with the lean SELECT handler, or None when the dialect
    runs none of the left-out rewrites or its SELECT handler is not the shape this module
    expects (then the dialect's own generator is used)."""
    base: type[Generator] = Dialect.get_or_raise(dialect_name).generator_class
    full = base.TRANSFORMS.get(exp.Select)
    try:
        found = inspect.getclosurevars(full).nonlocals if full else {}
    except (TypeError, ValueError):
        return None
    steps, writer = found.get("transforms"), found.get("generator")
    if not isinstance(steps, list) or not all(callable(step) for step in steps):
        return None
    kept = [step for step in steps if getattr(step, "__name__", "") not in LEFT_OUT]
    if len(kept) == len(steps) or full is None:
        return None
    lean = transforms.preprocess(kept, writer) if kept else None

    return type(f"Lean{base.__name__}", (base,),
                {"TRANSFORMS": {**base.TRANSFORMS, exp.Select: _select(full, lean)},
                 "own_selects": {}})


def _select(full: Handler, lean: Handler | None) -> Handler:
    def write(self: Any, expression: exp.Expr) -> str:
        if self.own_selects.get(id(expression)) is not expression:
            return full(self, expression)
        if lean is None:
            return str(self.select_sql(expression))
        return lean(self, expression)
    return write
