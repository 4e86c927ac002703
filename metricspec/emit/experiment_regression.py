"""The regression-adjustment query: per variant and adjusted metric, n and the sums of the
monomials of (y, covariates) up to degree 4 that `metricspec.stats.regression` needs for
OLS with a robust variance (docs/sufficient-statistics.md, "Regression sums").

Rows: (variant, metric, term, n, value); `term` names the monomial, its variables (`y`,
`pre(m)`, `unit.c`) sorted and joined by `*` (`pre(m)*y` is Σ pre(m)·y).

CTEs: exposure_log, exposures (as the experiment query), attributes (the assignment row of
each unit's first exposure: its `unit.c` columns), <source>_reg (one GROUP BY unit per
source: y after exposure, pre(m) over the pre-period), reg_units (every exposed unit,
missing → 0), reg_stats (one row per variant, every sum a column).
"""

from __future__ import annotations

import itertools

from sqlglot import exp

from metricspec.emit.experiment_parts import EXPOSED, UNIT, VARIANT
from metricspec.emit.experiment_sql import exposure_ctes
from metricspec.emit.join_sql import local_filter, relation
from metricspec.emit.joining import joining
from metricspec.emit.sqlbuild import SqlBuilder, aliased, cast, with_ctes
from metricspec.plan.lower import Measure
from metricspec.plan.regression import RegressionPlan

REGRESSION_COLUMNS = ("variant", "metric", "term", "n", "value")
Y = "y"


def terms(covariates: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """The monomials, as `metricspec.stats.regression.monomials(covariates, 4)` lists them
    (written out here so compiling SQL imports no statistics engine; a test compares)."""
    w = ("1", Y, *covariates)
    u = ("1", *covariates)
    found: set[tuple[str, ...]] = set()
    for a, b in itertools.combinations_with_replacement(w, 2):
        found.add(tuple(sorted(v for v in (a, b) if v != "1")))
        for c, d in itertools.combinations_with_replacement(u, 2):
            found.add(tuple(sorted(v for v in (a, b, c, d) if v != "1")))
    found.discard(())
    return tuple(sorted(found, key=lambda k: (len(k), k)))


def regression_sql(reg: RegressionPlan, sql: SqlBuilder) -> exp.Select:
    plan = reg.plan
    ctes: list[tuple[str, exp.Expr]] = list(exposure_ctes(plan, sql))
    columns: dict[str, str] = {}  # variable of the unit table → its column
    units = exp.select(aliased(sql.ref(UNIT, "e"), sql.alias(UNIT)),
                       aliased(sql.ref(VARIANT, "e"), sql.alias(VARIANT))).from_(
        aliased(exp.Table(this=exp.to_identifier("exposures")), "e"), copy=False)
    attributes = [c for c in reg.covariates if c.kind == "unit"]
    if attributes:
        ctes.append(("attributes", _attributes(reg, sql)))
        units = units.join(joining(sql.cte("attributes"), "left"), on=exp.and_(
            exp.EQ(this=sql.ref(UNIT, "attributes"), expression=sql.ref(UNIT, "e")),
            exp.EQ(this=sql.ref("__rank", "attributes"), expression=exp.Literal.number(1))),
            copy=False)
        for i, cov in enumerate(attributes):
            column = f"__a{i}"
            units = units.select(aliased(exp.Coalesce(
                this=sql.to_float(sql.ref(column, "attributes")),
                expressions=[exp.Literal.number(0)]), sql.alias(column)), copy=False)
            columns[cov.name] = column
    measures: list[tuple[str, Measure, bool]] = [(m, x, False) for m, x in reg.adjusted]
    measures += [(c.name, c.measure, True) for c in reg.covariates if c.measure is not None]
    for source in dict.fromkeys(m.source for _, m, _ in measures):
        table = f"{source}_reg"
        mine = [(n, m, pre) for n, m, pre in measures if m.source == source]
        ctes.append((table, _scan(reg, source, mine, sql)))
        units = units.join(joining(sql.cte(table), "left"), on=exp.EQ(
            this=sql.ref(UNIT, table), expression=sql.ref(UNIT, "e")),
            copy=False)
        for _, m, _ in mine:
            units = units.select(aliased(exp.Coalesce(
                this=sql.ref(m.name, table), expressions=[exp.Literal.number(0)]),
                sql.alias(m.name)), copy=False)
    for name, m, pre in measures:
        if pre:
            columns[name] = m.name
    ctes.append(("reg_units", units))
    stats = exp.select(aliased(sql.ref(VARIANT), sql.alias("variant")),
                       aliased(exp.Count(this=exp.Star()), sql.alias("n")))
    names = reg.names
    branches = []
    k = 0
    for metric, y in reg.adjusted:
        variables = {**columns, Y: y.name}
        for term in terms(names):
            stats = stats.select(aliased(exp.Sum(this=_product([variables[v] for v in term], sql)),
                                         sql.alias(f"__s{k}")), copy=False)
            branches.append(exp.select(
                *[aliased(cast(v, t), sql.alias(c)) for v, t, c in (
                    (sql.ref("variant"), "VARCHAR", "variant"),
                    (sql.text(metric), "VARCHAR", "metric"),
                    (sql.text("*".join(term)), "VARCHAR", "term"),
                    (sql.ref("n"), "BIGINT", "n"),
                    (sql.ref(f"__s{k}"), "DOUBLE", "value"))]).from_(sql.cte("reg_stats"),
                                                                    copy=False))
            k += 1
    stats = stats.from_(sql.cte("reg_units"), copy=False).group_by(sql.ref(VARIANT), copy=False)
    ctes.append(("reg_stats", stats))
    union: exp.Expr = branches[0]
    for branch in branches[1:]:
        union = exp.union(union, branch, distinct=False, copy=False)
    select = (exp.select(*[sql.ref(c) for c in REGRESSION_COLUMNS])
              .from_(exp.Subquery(this=union,
                                  alias=exp.TableAlias(this=exp.to_identifier("reg_rows"))),
                     copy=False)
              .order_by(*[sql.ref(c) for c in ("metric", "term", "variant")], copy=False))
    with_ctes(select, ctes)
    return select


def _product(columns: list[str], sql: SqlBuilder) -> exp.Expr:
    out: exp.Expr = sql.to_float(sql.ref(columns[0]))
    for column in columns[1:]:
        out = exp.Mul(this=out, expression=sql.ref(column))
    return out


def _attributes(reg: RegressionPlan, sql: SqlBuilder) -> exp.Expr:
    """Each unit's assignment rows in the window ranked as the exposure's (time, then
    variant): rank 1 is the first exposure row, whose attributes are the unit's. Over a
    historical window (`history_plan`) the rows of every variant count."""
    plan = reg.plan
    source = plan.assignment
    assert source.time is not None
    time, variant = sql.col(source.time.name, "a"), sql.col(plan.variant_column, "a")
    unit = sql.col(plan.unit, "a")
    select = exp.select(aliased(unit.copy(), sql.alias(UNIT)), aliased(exp.Window(
        this=exp.RowNumber(), partition_by=[unit.copy()],
        order=exp.Order(expressions=[sql.asc(time.copy()), sql.asc(variant.copy())]),
    ), sql.alias("__rank")))
    for i, cov in enumerate(c for c in reg.covariates if c.kind == "unit"):
        assert cov.column is not None
        select = select.select(aliased(sql.col(cov.column, "a"), sql.alias(f"__a{i}")), copy=False)
    conditions: list[exp.Expr] = [
        exp.GTE(this=time.copy(), expression=sql.ts(plan.start)),
        exp.LT(this=time.copy(), expression=sql.ts(plan.end)),
        exp.In(this=variant.copy(), expressions=[sql.text(v) for v in plan.variants]),
        exp.Not(this=exp.Is(this=unit.copy(), expression=exp.Null()))]
    if plan.history:  # power planning: any variant's row in the historical window
        del conditions[2]
    flt = sql.filter(plan.assignment_local, "a")
    if flt is not None:
        conditions.insert(0, flt)
    select = select.from_(relation(source, plan.segment_joins, sql, "a"), copy=False)
    return select.where(exp.and_(*conditions), copy=False)


def _scan(reg: RegressionPlan, source: str, measures: list[tuple[str, Measure, bool]],
          sql: SqlBuilder) -> exp.Expr:
    plan = reg.plan
    src = reg.sources[source]
    assert src.time is not None
    time = sql.col(src.time.name, "s")
    post = exp.and_(exp.GTE(this=time.copy(), expression=sql.ref(EXPOSED, "e")),
                    exp.LT(this=time.copy(), expression=sql.ts(plan.end)))
    pre = (exp.and_(exp.GTE(this=time.copy(), expression=sql.ts(plan.pre_start)),
                    exp.LT(this=time.copy(), expression=sql.ts(plan.start)))
           if plan.pre_start else None)
    select = exp.select(aliased(sql.ref(UNIT, "e"), sql.alias(UNIT)))
    joins = reg.joins.get(source)  # dimensions the measures' filters read
    for _, m, is_pre in measures:
        window = pre if is_pre else post
        assert window is not None
        flt = sql.filter(local_filter(joins, m.filter), "s")
        condition = exp.and_(window.copy(), flt) if flt is not None else window.copy()
        value = sql.col(m.column, "s") if m.column else None
        select = select.select(aliased(sql.agg(m.func, value, condition), sql.alias(m.name)),
                               copy=False)
    lower = min(plan.start, plan.pre_start) if plan.pre_start else plan.start
    select = select.from_(relation(src, joins, sql, "s"), copy=False).join(
        joining(aliased(exp.Table(this=exp.to_identifier("exposures")), "e"), "inner"),
        on=exp.EQ(this=sql.col(plan.unit, "s"), expression=sql.ref(UNIT, "e")),
        copy=False)
    select = select.where(exp.and_(exp.GTE(this=time.copy(), expression=sql.ts(lower)),
                                   exp.LT(this=time.copy(), expression=sql.ts(plan.end))),
                          copy=False)
    return select.group_by(sql.ref(UNIT, "e"), copy=False)
