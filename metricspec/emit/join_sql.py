"""The relation a scan reads: its source, joined to the dimension tables it needs.

    (SELECT s.*, j1.plan AS users_plan, j2.tier AS user_id_account_id_tier
     FROM <source> AS s
     LEFT JOIN <users> AS j1 ON s.user_id = j1.user_id
     LEFT JOIN <accounts> AS j2 ON j1.account_id = j2.account_id) AS s

Every join follows a many-to-one edge (`check` accepted the path), so the relation has
exactly the source's rows and the source is read once. A LEFT JOIN keeps facts whose key
has no dimension row (their dimension is NULL). A slowly changing dimension is joined as of
the source's time: `valid_from <= time < valid_to` (an open `valid_to` is NULL). Paths that
share a prefix share its joins. A derived dimension of a joined table is NULL, like its
columns, for a fact no row of that table matched.
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from metricspec import ir
from metricspec.emit.joining import joining
from metricspec.emit.sqlbuild import SqlBuilder, aliased
from metricspec.filters import CheckedFilter, parse_filter
from metricspec.plan.joins import Joins
from metricspec.plan.lower import InternalError, Measure


def relation(source: ir.Source, joins: Joins | None, sql: SqlBuilder, alias: str) -> exp.Expr:
    """The FROM item of a scan: the source itself, or a subquery joining its dimensions."""
    if joins is None:
        return sql.source(source, alias)
    select = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("s")))
    select = select.from_(sql.source(source, "s"), copy=False)
    aliases: dict[tuple[object, ...], str] = {}
    for joined in joins.columns:
        previous = "s"
        for depth in range(1, len(joined.path.edges) + 1):
            prefix = joined.path.edges[:depth]
            if prefix not in aliases:
                aliases[prefix] = f"j{len(aliases) + 1}"
                edge = prefix[-1]
                select = select.join(
                    joining(sql.source(joins.tables[edge.target], aliases[prefix]), "left"),
                    on=_on(joins, edge.key, edge.target, previous, aliases[prefix], sql),
                    copy=False)
            previous = aliases[prefix]
        table = joins.tables[joined.path.target]
        derived = next((d for d in table.derived if d.name == joined.path.column), None)
        value: exp.Expr = sql.col(joined.path.column, previous)
        if derived is not None:  # NULL, like every column, when no dimension row matched
            matched = exp.Not(this=exp.Is(this=sql.col(joined.path.edges[-1].key, previous),
                                          expression=exp.Null()))
            value = sql.when(matched, _derived(derived, sql, previous))
        select = select.select(aliased(value, sql.alias(joined.output)), copy=False)
    if joins.derived:  # the source's own derived dimensions, over its joined columns
        outer = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("d")))
        for own in joins.derived:
            outer = outer.select(aliased(_derived(own, sql, "d", joins), sql.alias(own.name)),
                                 copy=False)
        select = outer.from_(exp.Subquery(this=select, alias=exp.TableAlias(
            this=exp.to_identifier("d"))), copy=False)
    return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(alias)))


def localized(joins: Joins | None, measures: tuple[Measure, ...]) -> tuple[Measure, ...]:
    """The measures with their filters reading the relation's joined columns."""
    if joins is None:
        return measures
    return tuple(dataclasses.replace(m, filter=joins.localize(m.filter)) for m in measures)


def local_filter(joins: Joins | None, flt: CheckedFilter | None) -> CheckedFilter | None:
    """A filter reading the relation's joined columns (itself without joins)."""
    return joins.localize(flt) if joins else flt


def _on(joins: Joins, key: str, target: str, left: str, right: str,
        sql: SqlBuilder) -> exp.Expr:
    table = joins.tables[target]
    conditions: list[exp.Expr] = [
        exp.EQ(this=sql.col(key, left), expression=sql.col(key, right))]
    if table.valid_from is not None and table.valid_to is not None:
        time = joins.source.time
        if time is None:
            raise InternalError(f"`{joins.source.name}` joins the slowly changing dimension "
                                f"`{target}` without a time column", "MS433")
        event = sql.col(time.name, "s")
        conditions.append(exp.LTE(this=sql.col(table.valid_from.name, right),
                                  expression=event.copy()))
        conditions.append(exp.Paren(this=exp.or_(
            exp.Is(this=sql.col(table.valid_to.name, right), expression=exp.Null()),
            exp.LT(this=event.copy(), expression=sql.col(table.valid_to.name, right)))))
    return exp.and_(*conditions)


def _derived(derived: ir.DerivedDimension, sql: SqlBuilder, alias: str,
             joins: Joins | None = None) -> exp.Expr:
    checked, _ = parse_filter(derived.expr.sql)  # rebuilt from the closed filter grammar
    if checked is not None:
        checked = joins.localize(checked) if joins else checked
        assert checked is not None
        # a bare column at the root is qualified too (sql.filter replaces columns in place)
        checked = dataclasses.replace(checked, tree=exp.Paren(this=checked.tree.copy()))
    value = sql.filter(checked, alias)
    if value is None:
        raise InternalError(f"derived dimension `{derived.name}` does not parse", "MS403")
    return value
