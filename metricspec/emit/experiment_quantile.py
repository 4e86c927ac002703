"""Exact, clustered percentiles for experiments, from ranks (no percentile functions, so
every warehouse computes the same numbers): the metric's non-null values, their count and
interpolation positions per variant (and segment), each value's rank, and per-unit parts
whose sums over units give the quantile, its bounds and the clustered variance inputs."""

from __future__ import annotations

from sqlglot import exp

from metricspec.emit.experiment_parts import UNIT, VARIANT, partitions, seg, suffix
from metricspec.emit.joining import joining
from metricspec.emit.sqlbuild import Z_975, SqlBuilder, aliased
from metricspec.plan.experiment import BaseMetric, ExperimentPlan


def quantile_ctes(
    plan: ExperimentPlan, source: str, base: BaseMetric, sql: SqlBuilder
) -> tuple[list[tuple[str, exp.Expr]], list[str]]:
    """An exact, clustered percentile from ranks: the metric's values (narrow rows only),
    their count and the three positions per variant (and segment), then each row's rank."""
    assert base.quantile is not None and base.quantile.quantile is not None
    nu = base.quantile.quantile
    value = sql.ref(f"{base.name}__v")
    keep = [UNIT, VARIANT, *[seg(s) for s in plan.segments]]
    values = (
        exp.select(*[sql.ref(c) for c in keep], aliased(value, sql.alias("v")))
        .from_(sql.cte(f"{source}_events"), copy=False)
        .where(exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null())), copy=False)
    )
    ctes: list[tuple[str, exp.Expr]] = [(f"{base.name}_values", values)]
    ranked = exp.select(sql.ref(UNIT, "v"), sql.ref("v", "v")).from_(
        aliased(sql.cte(f"{base.name}_values"), "v"), copy=False
    )
    names: list[str] = []
    for _, column in partitions(plan):
        tail = suffix(column)
        counts_name = f"{base.name}_counts{tail}"
        keys = [VARIANT] + ([column] if column else [])
        n = exp.Count(this=exp.Star())
        counts = exp.select(
            *[sql.ref(k) for k in keys],
            aliased(n, sql.alias("n")),
            aliased(_position(n.copy(), sql.exact_fraction(nu)), sql.alias("pos")),
            aliased(_n_star(n.copy()), sql.alias("nstar")),
        )
        for side, sign in (("lo", -1), ("hi", 1)):
            shifted = exp.Add(
                this=exp.Literal.number(repr(nu)),
                expression=exp.Mul(
                    this=exp.Literal.number(repr(sign * Z_975)),
                    expression=exp.Sqrt(
                        this=exp.Div(
                            this=exp.Literal.number(repr(nu * (1 - nu))),
                            expression=_n_star(n.copy()),
                        )
                    ),
                ),
            )
            position = _position(n.copy(), shifted)
            clamp = (
                exp.Greatest(this=exp.Literal.number(1), expressions=[position])
                if side == "lo"
                else exp.Least(this=n.copy(), expressions=[position])
            )
            counts = counts.select(aliased(clamp, sql.alias(f"pos{side}")), copy=False)
        counts = counts.from_(sql.cte(f"{base.name}_values"), copy=False).group_by(
            *[sql.ref(k) for k in keys], copy=False
        )
        ctes.append((counts_name, counts))
        # the position among the sorted values (ties broken by unit, so the interpolated
        # quantile picks the same rows on every engine) ...
        rank = exp.Window(
            this=exp.RowNumber(),
            partition_by=[sql.ref(k, "v") for k in keys],
            order=exp.Order(expressions=[sql.asc(sql.ref("v", "v")), sql.asc(sql.ref(UNIT, "v"))]),
        )
        # ... and 1 + the number of values strictly below this one: a value is at or below
        # the quantile exactly when this is ≤ ⌊pos⌋, whatever the order of its ties
        tie_rank = exp.Window(
            this=exp.Rank(),
            partition_by=[sql.ref(k, "v") for k in keys],
            order=exp.Order(expressions=[sql.asc(sql.ref("v", "v"))]),
        )
        ranked = ranked.select(
            aliased(rank, sql.alias(f"rank{tail}")),
            aliased(tie_rank, sql.alias(f"tierank{tail}")),
            *[
                aliased(sql.ref(c, counts_name), sql.alias(f"{c}{tail}"))
                for c in ("pos", "poslo", "poshi", "nstar")
            ],
            copy=False,
        ).join(
            joining(sql.cte(counts_name), "inner"),
            on=exp.and_(
                *[
                    exp.NullSafeEQ(this=sql.ref(k, "v"), expression=sql.ref(k, counts_name))
                    for k in keys
                ]
            ),
            copy=False,
        )
        names += [
            f"{base.name}__{label}{tail}"
            for label in ("below", "events", "q", "qlo", "qhi", "nstar")
        ]
    ctes.append((f"{base.name}_ranked", ranked))
    return ctes, names


def quantile_units(plan: ExperimentPlan, base: BaseMetric, sql: SqlBuilder) -> exp.Select:
    """Per unit: its events, those whose value is at or below the quantile q, and its share
    of the interpolated quantile and bounds (a SUM over units gives them).

    q lies in [v₍f₎, v₍f+1₎] with f = ⌊pos⌋, so value ≤ q ⟺ value ≤ v₍f₎ ⟺ fewer than f
    values lie strictly below it ⟺ RANK() ≤ f. Counting by value rather than by position
    makes `below` a property of the data: tied values at the quantile are all counted, in
    whichever unit they occur (docs/sufficient-statistics.md)."""
    value = sql.ref("v", "r")
    select = exp.select(aliased(sql.ref(UNIT, "r"), sql.alias(UNIT)))
    for _, column in partitions(plan):
        tail = suffix(column)
        rank = sql.ref(f"rank{tail}", "r")
        pos = sql.ref(f"pos{tail}", "r")
        at_or_below = exp.LTE(
            this=sql.ref(f"tierank{tail}", "r"), expression=exp.Floor(this=pos.copy())
        )
        items: dict[str, exp.Expr] = {
            "below": sql.agg("count", None, at_or_below),
            "events": exp.Count(this=exp.Star()),
        }
        for label in ("q", "qlo", "qhi"):
            position = sql.ref(f"pos{label[1:]}{tail}", "r") if label != "q" else pos
            items[label] = exp.Sum(this=_interpolate(value, rank, position))
        items["nstar"] = exp.Max(this=sql.ref(f"nstar{tail}", "r"))
        select = select.select(
            *[aliased(e, sql.alias(f"{base.name}__{k}{tail}"))
              for k, e in items.items()],
            copy=False,
        )
    return select.from_(aliased(sql.cte(f"{base.name}_ranked"), "r"), copy=False).group_by(
        sql.ref(UNIT, "r"), copy=False
    )


def _position(n: exp.Expr, fraction: exp.Expr) -> exp.Expr:
    """1-based position of a quantile among n sorted values (linear interpolation)."""
    return exp.Add(
        this=exp.Literal.number(1),
        expression=exp.Mul(
            this=exp.Paren(this=exp.Sub(this=n.copy(), expression=exp.Literal.number(1))),
            expression=fraction,
        ),
    )


def _n_star(n: exp.Expr) -> exp.Expr:
    """100·2^k, the largest such value ≤ n (gbstats' grid for quantile bounds)."""
    log2 = exp.Div(
        this=exp.Ln(
            this=exp.Div(
                this=exp.Greatest(this=n.copy(), expressions=[exp.Literal.number(1)]),
                expression=exp.Literal.number("100.0"),
            )
        ),
        expression=exp.Ln(this=exp.Literal.number(2)),
    )
    power = exp.Pow(
        this=exp.Literal.number(2),
        expression=exp.Floor(this=exp.Add(this=log2, expression=exp.Literal.number("1e-09"))),
    )
    return exp.Mul(this=exp.Literal.number(100), expression=power)


def _interpolate(value: exp.Expr, rank: exp.Expr, pos: exp.Expr) -> exp.Expr:
    """This row's share of the interpolated value at `pos` (zero unless it is one of the two
    neighbours), so a SUM over all rows gives the quantile."""
    floor = exp.Floor(this=pos.copy())
    frac = exp.Paren(this=exp.Sub(this=pos.copy(), expression=floor.copy()))
    at_floor = exp.EQ(this=rank.copy(), expression=floor.copy())
    above = exp.EQ(
        this=rank.copy(),
        expression=exp.Add(this=floor.copy(), expression=exp.Literal.number(1)),
    )
    return exp.Case(
        ifs=[
            exp.If(
                this=at_floor,
                true=exp.Mul(
                    this=value.copy(),
                    expression=exp.Paren(
                        this=exp.Sub(this=exp.Literal.number(1), expression=frac.copy())
                    ),
                ),
            ),
            exp.If(this=above, true=exp.Mul(this=value.copy(), expression=frac.copy())),
        ]
    )
