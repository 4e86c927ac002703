"""The emitters build each query's tree without copying what they attach (`copy=False`), for
speed; that is safe only while no node is attached in two places. A node held twice would
be rendered twice and, worse, moved or rewritten in both places by any pass that changes
the tree in place (parentheses, sqlglot's own rewrites). Every query of `specs/`, for every
dialect, is built here and walked: each node appears once, under the parent it names."""

from __future__ import annotations

import pytest
from sqlglot import exp

from metricspec.backends import all_backends
from metricspec.emit.monitor_series_sql import monitor_series_sql
from metricspec.emit.monitor_sql import monitor_coverage_sql
from metricspec.emit.sqlbuild import SqlBuilder
from metricspec.pipeline import compile_all
from metricspec.pipeline.kinds import KINDS
from metricspec.plan.monitor import MonitorPlan
from metricspec.semantic import Index


def shared_nodes(tree: exp.Expr) -> list[str]:
    """Nodes reached twice, or whose parent is not the node holding them."""
    found: list[str] = []
    seen: set[int] = set()
    for node in tree.walk():
        if id(node) in seen:
            found.append(f"{type(node).__name__} reached twice: {node.sql()[:60]}")
            continue
        seen.add(id(node))
        for child in node.iter_expressions():
            if child.parent is not node:
                found.append(f"{type(child).__name__} under {type(node).__name__}."
                             f"{child.arg_key} names another parent: {child.sql()[:60]}")
    return found


def test_the_check_finds_a_shared_node() -> None:
    column = exp.column("x")
    tree = exp.select(exp.Sum(this=column), exp.Max(this=column))
    assert shared_nodes(tree)
    assert not shared_nodes(exp.select(exp.Sum(this=column), exp.Max(this=column.copy())))


@pytest.mark.parametrize("dialect", sorted(all_backends()))
def test_no_node_is_attached_twice(index: Index, dialect: str) -> None:
    backend = all_backends()[dialect]
    queries, failed = compile_all(index, [backend], per_metric=True)
    assert not failed, [str(f) for f in failed]
    problems: dict[str, list[str]] = {}
    for query in queries:
        trees = [KINDS[query.kind].emit(query.plan, SqlBuilder(backend))]
        if isinstance(query.plan, MonitorPlan):
            trees += [monitor_series_sql(query.plan, SqlBuilder(backend)),
                      monitor_coverage_sql(query.plan, SqlBuilder(backend))]
        for tree in trees:
            if found := shared_nodes(tree):
                problems[query.path] = found[:3]
    assert not problems, problems


def test_compile_all_puts_the_collector_back_as_it_found_it(index: Index) -> None:
    """`compile_all` pauses automatic collection and sets the project aside while it
    compiles (collecting each query's garbage itself); afterwards both are as before, and a
    caller's own frozen objects or paused collector are left alone."""
    import gc

    backend = all_backends()["duckdb"]
    assert gc.isenabled() and not gc.get_freeze_count()
    first, _ = compile_all(index, [backend])
    assert gc.isenabled() and not gc.get_freeze_count()
    gc.disable()
    try:
        again, _ = compile_all(index, [backend])
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert [q.sql for q in again] == [q.sql for q in first]
