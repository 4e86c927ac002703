"""The last two steps of an experiment query: per-variant sums over the unit table, and the
long format (one row per segment × variant × base metric, plus cross rows for derived
metrics and the exposure counts for the sample-ratio check).

`n` is the number of exposed units of the (segment, variant), except on a quantile row,
where it counts the clusters: units with at least one event (docs/sufficient-statistics.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from metricspec.emit.experiment_parts import VARIANT, partitions
from metricspec.emit.sqlbuild import SqlBuilder, aliased, cast
from metricspec.plan.experiment import BaseMetric, ExperimentPlan

# The documented long format (docs/sufficient-statistics.md), written out here so that
# compiling SQL imports no statistics engine; tests/test_startup.py checks it is the list
# `metricspec.stats.longformat.COLUMNS` reads.
LONG_COLUMNS: tuple[str, ...] = (
    "experiment", "segment", "segment_value", "variant", "metric", "metric_2", "n",
    "sum_x", "sum_x2", "sum_y", "sum_y2", "sum_xy", "sum_c", "sum_c2", "sum_xc",
    "sum_d", "sum_d2", "sum_cd", "sum_xd", "sum_yc", "sum_yd",
    "cross_xx", "cross_xy", "cross_yx", "cross_yy",
    "q", "q_lower", "q_upper", "q_n_star",
)
TEXT_COLUMNS = LONG_COLUMNS[:6]
UNITS_METRIC, MULTIPLE_VARIANT = "__units__", "__multiple__"


def _columns(base: BaseMetric) -> dict[str, str]:
    """Unit-table columns of a base metric by role: x, y, c (pre x), d (pre y)."""
    if base.kind == "quantile":
        return {"x": f"{base.name}__below", "y": f"{base.name}__events"}
    roles = {"x": f"{base.name}__x"}
    if base.kind == "ratio":
        roles["y"] = f"{base.name}__y"
    if base.cuped:
        roles["c"] = f"{base.name}__x__pre"
        if base.kind == "ratio":
            roles["d"] = f"{base.name}__y__pre"
    return roles


# long-format column → the product of roles it sums (one role: a plain sum)
_MOMENTS: dict[str, tuple[str, ...]] = {
    "sum_x": ("x",),
    "sum_x2": ("x", "x"),
    "sum_y": ("y",),
    "sum_y2": ("y", "y"),
    "sum_xy": ("x", "y"),
    "sum_c": ("c",),
    "sum_c2": ("c", "c"),
    "sum_xc": ("x", "c"),
    "sum_d": ("d",),
    "sum_d2": ("d", "d"),
    "sum_cd": ("c", "d"),
    "sum_xd": ("x", "d"),
    "sum_yc": ("y", "c"),
    "sum_yd": ("y", "d"),
}


def _moments(base: BaseMetric) -> Iterator[tuple[str, tuple[str, ...]]]:
    roles = _columns(base)
    for column, needed in _MOMENTS.items():
        if all(r in roles for r in needed):
            yield column, tuple(roles[r] for r in needed)


def _stat(base: str, column: str) -> str:
    return f"{base}__{column}"


def stats_cte(plan: ExperimentPlan, table: str, sql: SqlBuilder) -> exp.Expr:
    """Per (segment, variant) sums over the unit table, one branch per segment dimension."""
    bases = {b.name: b for b in plan.bases}
    union: exp.Expr | None = None
    for segment, column in partitions(plan):
        tail = "" if column is None else f"__{column}"
        value = cast(sql.ref(column), "VARCHAR") if column else sql.typed_null("VARCHAR")
        select = exp.select(
            aliased(sql.text(segment), sql.alias("segment")),
            aliased(value, sql.alias("segment_value")),
            aliased(sql.ref(VARIANT), sql.alias("variant")),
            aliased(exp.Count(this=exp.Star()), sql.alias("n")),
        )
        for base in plan.bases:
            for name, product in _moments(base):
                if base.kind == "quantile":
                    product = tuple(p + tail for p in product)
                select = select.select(
                    aliased(exp.Sum(this=_product(product, sql)),
                            sql.alias(_stat(base.name, name))),
                    copy=False,
                )
            if base.kind == "quantile":
                # a quantile row's n counts clusters: units with at least one event
                events = sql.ref(f"{base.name}__events{tail}")
                select = select.select(
                    aliased(sql.agg(
                        "count", None, exp.GT(this=events, expression=exp.Literal.number(0))
                    ), sql.alias(_stat(base.name, "n"))),
                    copy=False,
                )
                for label, agg in (
                    ("q", exp.Sum),
                    ("qlo", exp.Sum),
                    ("qhi", exp.Sum),
                    ("nstar", exp.Max),
                ):
                    select = select.select(
                        aliased(agg(this=sql.ref(f"{base.name}__{label}{tail}")),
                                sql.alias(_stat(base.name, label))),
                        copy=False,
                    )
        for a, b in plan.cross:
            ra, rb = _columns(bases[a]), _columns(bases[b])
            for left in ("x", "y"):
                for right in ("x", "y"):
                    if left in ra and right in rb:
                        select = select.select(
                            aliased(exp.Sum(this=_product((ra[left], rb[right]), sql)),
                                    sql.alias(_stat(f"{a}__{b}", f"cross_{left}{right}"))),
                            copy=False,
                        )
        select = select.from_(sql.cte(table), copy=False)
        keys = [sql.ref(VARIANT)] + ([sql.ref(column)] if column else [])
        select = select.group_by(*keys, copy=False)
        union = select if union is None else exp.union(union, select, distinct=False, copy=False)
    assert union is not None
    return union


def _product(columns: tuple[str, ...], sql: SqlBuilder) -> exp.Expr:
    if len(columns) == 1:
        return sql.ref(columns[0])
    return exp.Mul(this=sql.to_float(sql.ref(columns[0])), expression=sql.ref(columns[1]))


def long_rows(plan: ExperimentPlan, sql: SqlBuilder) -> exp.Select:
    """The final SELECT: the stats CTE unpivoted into the documented long format."""
    bases = {b.name: b for b in plan.bases}
    branches: list[exp.Select] = []
    for base in plan.bases:
        values: dict[str, exp.Expr] = {"metric": sql.text(base.name)}
        for name, _ in _moments(base):
            values[name] = sql.ref(_stat(base.name, name))
        if base.kind == "quantile":
            values["n"] = sql.ref(_stat(base.name, "n"))
            for column, label in (
                ("q", "q"),
                ("q_lower", "qlo"),
                ("q_upper", "qhi"),
                ("q_n_star", "nstar"),
            ):
                values[column] = sql.ref(_stat(base.name, label))
        branches.append(_branch(plan, values, sql, first=not branches))
    for a, b in plan.cross:
        ra, rb = _columns(bases[a]), _columns(bases[b])
        values = {"metric": sql.text(a), "metric_2": sql.text(b)}
        for left in ("x", "y"):
            for right in ("x", "y"):
                if left in ra and right in rb:
                    values[f"cross_{left}{right}"] = sql.ref(
                        _stat(f"{a}__{b}", f"cross_{left}{right}")
                    )
        branches.append(_branch(plan, values, sql))
    branches.append(_branch(plan, {"metric": sql.text(UNITS_METRIC)}, sql, first=not branches))
    branches.append(_multiple(plan, sql))
    union: exp.Expr = branches[0]
    for branch in branches[1:]:
        union = exp.union(union, branch, distinct=False, copy=False)
    order = [
        exp.Ordered(this=sql.ref(c), nulls_first=True)
        for c in ("segment", "segment_value", "variant", "metric", "metric_2")
    ]
    return (
        exp.select(*[sql.ref(c) for c in LONG_COLUMNS])
        .from_(
            exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier("long_rows"))),
            copy=False,
        )
        .order_by(*order, copy=False)
    )


def _branch(
    plan: ExperimentPlan, values: dict[str, exp.Expr], sql: SqlBuilder, first: bool = False
) -> exp.Select:
    row: dict[str, exp.Expr] = {
        "experiment": sql.text(plan.experiment.name),
        "segment": sql.ref("segment"),
        "segment_value": sql.ref("segment_value"),
        "variant": sql.ref("variant"),
        "n": sql.ref("n"),
        **values,
    }
    return exp.select(
        *[aliased(_typed(c, row.get(c), sql, first), sql.alias(c)) for c in LONG_COLUMNS]
    ).from_(sql.cte("stats"), copy=False)


def _multiple(plan: ExperimentPlan, sql: SqlBuilder) -> exp.Select:
    """One row counting the units excluded for appearing in more than one variant."""
    excluded = (
        exp.select(exp.Count(this=exp.Star()))
        .from_(sql.cte("exposure_log"), copy=False)
        .where(
            exp.and_(
                exp.EQ(this=sql.ref("__exposure_rank"), expression=exp.Literal.number(1)),
                exp.NEQ(this=sql.ref("__variant_min"), expression=sql.ref("__variant_max")),
            ),
            copy=False,
        )
    )
    row: dict[str, exp.Expr] = {
        "experiment": sql.text(plan.experiment.name),
        "segment": sql.text("all"),
        "variant": sql.text(MULTIPLE_VARIANT),
        "metric": sql.text(UNITS_METRIC),
        "n": exp.Subquery(this=excluded),
    }
    return exp.select(*[aliased(_typed(c, row.get(c), sql, False),
                                sql.alias(c)) for c in LONG_COLUMNS])


def _typed(column: str, value: exp.Expr | None, sql: SqlBuilder, first: bool) -> exp.Expr:
    """A long-format cell: typed values; NULLs typed in the first UNION branch only (the
    others take the column's type from it, and a thousand casts of NULL slow compiling)."""
    kind = "VARCHAR" if column in TEXT_COLUMNS else "BIGINT" if column == "n" else "DOUBLE"
    if value is None:
        return sql.typed_null(kind) if first else exp.Null()
    return cast(value, kind)
