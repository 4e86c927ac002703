"""Joins of a known type, built as trees.

sqlglot's `Select.join(table, join_type="left")` learns what `left` means by parsing the
text `FROM _ left JOIN _` on every call, which cost more than the rest of the join. Here a
join type is parsed once, and `joining` builds the same `Join` node sqlglot would, for
`Select.join` to attach (it takes a `Join` as it is).
"""

from __future__ import annotations

from functools import cache

import sqlglot
from sqlglot import exp


@cache
def _parts(join_type: str) -> tuple[tuple[str, str], ...]:
    found = sqlglot.parse_one(f"SELECT * FROM _ {join_type} JOIN _").find(exp.Join)
    assert found is not None
    return tuple((key, str(found.args[key])) for key in ("method", "side", "kind")
                 if found.args.get(key))


def joining(table: exp.Expr, join_type: str) -> exp.Join:
    """`table` as the right side of a join of `join_type` (`left`, `inner`, `cross`)."""
    return exp.Join(this=table, **dict(_parts(join_type)))
