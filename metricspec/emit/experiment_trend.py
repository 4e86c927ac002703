"""The novelty trend test's part of the daily query: a balanced cohort and each unit's
contribution to the slope of the daily metric (docs/statistics.md, "Novelty / primacy").

The cohort: units first exposed early enough to be seen on each of the first H days since
exposure (H = `trend_days`). On day d < H an arm's metric is R_d = Σx_d/Σy_d over the
cohort (y ≡ 1 for means and proportions); the arm's slope is Σ_d c_d·R_d with
c_d = (d − d̄)/Σ(d − d̄)². Its delta-method variance is Var(u)/n over the cohort's units,
u_i = Σ_d c_d·(x_id − R_d·y_id)/ȳ_d, which counts each unit once whatever its days share.

CTEs: trend_arm (cohort sums per variant and day since exposure), trend_units (u per unit).
Rows: `cohort` (metric × day since exposure × variant: n, Σx, Σy) and `trend` (metric ×
variant: n, Σu, Σu²).
"""

from __future__ import annotations

from sqlglot import exp

from metricspec.emit.experiment_parts import UNIT, VARIANT
from metricspec.emit.joining import joining
from metricspec.emit.sqlbuild import SqlBuilder, aliased
from metricspec.plan.experiment import BaseMetric

DAY, FIRST_DAY = "__day", "__first_day"
D = "__d"


def trend_days(window_days: int) -> int:
    """H: a week, or half of a shorter window (the cohort must be exposed in the rest)."""
    return min(7, window_days // 2)


def _since(sql: SqlBuilder, table: str | None = None) -> exp.Expr:
    return exp.Sub(this=sql.ref(DAY, table), expression=sql.ref(FIRST_DAY, table))


def _in_cohort(sql: SqlBuilder, days: int, horizon: int, table: str) -> exp.Expr:
    return exp.and_(
        exp.LTE(this=sql.ref(FIRST_DAY, table), expression=exp.Literal.number(days - horizon)),
        exp.LT(this=_since(sql, table), expression=exp.Literal.number(horizon)))


def _parts(base: BaseMetric) -> tuple[str, str | None]:
    assert base.x is not None
    return base.x.name, base.y.name if base.y else None


def trend_ctes(bases: tuple[BaseMetric, ...], days: int, horizon: int,
               sql: SqlBuilder) -> list[tuple[str, exp.Expr]]:
    arm = exp.select(aliased(sql.ref(VARIANT, "g"), sql.alias(VARIANT)),
                     aliased(_since(sql, "g"), sql.alias(D)),
                     aliased(exp.Count(this=exp.Star()), sql.alias("__n")))
    for base in bases:
        x, y = _parts(base)
        arm = arm.select(aliased(exp.Sum(this=sql.ref(x, "g")), sql.alias(f"{base.name}__tx")),
                         copy=False)
        if y is not None:
            arm = arm.select(aliased(exp.Sum(this=sql.ref(y, "g")), sql.alias(f"{base.name}__ty")),
                             copy=False)
    arm = arm.from_(aliased(exp.Table(this=exp.to_identifier("grid")), "g"), copy=False).where(
        _in_cohort(sql, days, horizon, "g"), copy=False).group_by(
        sql.ref(VARIANT, "g"), _since(sql, "g"), copy=False)
    centre = (horizon - 1) / 2
    spread = sum((d - centre) ** 2 for d in range(horizon))
    weight = exp.Div(this=exp.Sub(this=sql.to_float(_since(sql, "g")),
                                  expression=sql.num(centre)),
                     expression=sql.num(spread))
    units = exp.select(aliased(sql.ref(UNIT, "g"), sql.alias(UNIT)),
                       aliased(sql.ref(VARIANT, "g"), sql.alias(VARIANT)))
    for base in bases:
        x, y = _parts(base)
        n = sql.to_float(sql.ref("__n", "a"))
        if y is None:  # a mean: R_d = x̄_d, ȳ_d = 1
            part: exp.Expr = exp.Sub(this=sql.ref(x, "g"),
                                     expression=sql.div(sql.ref(f"{base.name}__tx", "a"), n))
        else:
            ratio = sql.div(sql.ref(f"{base.name}__tx", "a"), sql.ref(f"{base.name}__ty", "a"))
            part = sql.div(
                exp.Sub(this=sql.ref(x, "g"), expression=exp.Mul(this=ratio,
                                                                 expression=sql.ref(y, "g"))),
                sql.div(sql.ref(f"{base.name}__ty", "a"), n.copy()))
        units = units.select(aliased(exp.Sum(this=exp.Mul(this=weight.copy(), expression=part)),
                                     sql.alias(f"{base.name}__u")), copy=False)
    units = units.from_(aliased(exp.Table(this=exp.to_identifier("grid")), "g"), copy=False).join(
        joining(aliased(exp.Table(this=exp.to_identifier("trend_arm")), "a"), "inner"),
        on=exp.and_(
            exp.EQ(this=sql.ref(VARIANT, "a"), expression=sql.ref(VARIANT, "g")),
            exp.EQ(this=sql.ref(D, "a"), expression=_since(sql, "g"))),
        copy=False).where(_in_cohort(sql, days, horizon, "g"), copy=False)
    units = units.group_by(sql.ref(UNIT, "g"), sql.ref(VARIANT, "g"), copy=False)
    return [("trend_arm", arm), ("trend_units", units)]


def trend_rows(base: BaseMetric, sql: SqlBuilder) -> list[dict[str, exp.Expr]]:
    """The `cohort` and `trend` rows of one metric, as column → value."""
    _, y = _parts(base)
    cohort: dict[str, exp.Expr] = {
        "kind": sql.text("cohort"), "day": sql.ref(D), "segment": sql.text("all"),
        "variant": sql.ref(VARIANT), "metric": sql.text(base.name), "n": sql.ref("__n"),
        "sum_x": sql.ref(f"{base.name}__tx")}
    if y is not None:
        cohort["sum_y"] = sql.ref(f"{base.name}__ty")
    u = sql.ref(f"{base.name}__u")
    trend: dict[str, exp.Expr] = {
        "kind": sql.text("trend"), "segment": sql.text("all"), "variant": sql.ref(VARIANT),
        "metric": sql.text(base.name), "n": exp.Count(this=exp.Star()),
        "sum_x": exp.Sum(this=u), "sum_x2": exp.Sum(this=exp.Mul(this=u.copy(),
                                                                 expression=u.copy()))}
    return [cohort, trend]
