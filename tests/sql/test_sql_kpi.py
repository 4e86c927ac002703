"""KPI-tree reconciliation (`support_cost_reduction`) equals pandas' parent − composed.

Every edge of the tree with a composition (sum, product, ratio, weighted) is recomputed
from the metrics' own pandas definitions in `sql_reference`: the parent per period, the
drivers combined as declared, and their difference.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sql_reference import METRICS, Query, Tables, assert_same_rows

from metricspec.backends import get_backend
from metricspec.pipeline import compile_object
from metricspec.plan.metric_query import Grain
from metricspec.semantic import Index

COLUMNS = ["parent", "composition", "period", "parent_value", "composed_value", "residual",
           "relative_residual"]


def reconciliation(tables: Tables, index: Index, kpi: str, q: Query) -> pd.DataFrame:
    """Per reconciled edge and period: parent, composed drivers and residual."""
    out = []
    for edge in index.kpis[kpi].edges:
        if edge.composition == "drivers":  # influence only: nothing to reconcile
            continue
        parent = METRICS[edge.parent.name](tables, q)
        drivers = [METRICS[d.metric.name](tables, q) for d in edge.drivers]
        frame = pd.concat([parent, *drivers], axis=1, keys=range(len(drivers) + 1))
        values = [frame[i + 1] for i in range(len(drivers))]
        if edge.composition == "ratio":
            composed = values[0] / values[1].where(values[1] != 0)
        elif edge.composition == "product":
            composed = values[0]
            for v in values[1:]:
                composed = composed * v
        elif edge.composition == "sum":
            composed = sum(values[1:], values[0])
        else:  # weighted
            weights = [d.weight if d.weight is not None else 1.0 for d in edge.drivers]
            composed = sum((w * v for w, v in zip(weights[1:], values[1:], strict=True)),
                           weights[0] * values[0])
        residual = frame[0] - composed
        out.append(pd.DataFrame({
            "parent": edge.parent.name, "composition": edge.composition,
            "period": frame.index.get_level_values("period"), "parent_value": frame[0].values,
            "composed_value": composed.values, "residual": residual.values,
            "relative_residual": (residual / frame[0].where(frame[0] != 0)).values}))
    return pd.concat(out, ignore_index=True)


@pytest.mark.parametrize(("grain", "start", "end"), [
    ("day", None, None),
    ("week", dt.datetime(2026, 10, 5), dt.datetime(2026, 11, 2)),
    ("hour", dt.datetime(2026, 11, 16), dt.datetime(2026, 11, 17)),
])
def test_reconciliation_equals_pandas(con, tables, index, grain: str, start, end) -> None:
    q = Query(grain, (), start, end)
    sql = compile_object(index, "support_cost_reduction", get_backend("duckdb"),
                         grain=Grain.parse(grain), start=start, end=end).sql
    actual = con.execute(sql).df()
    expected = reconciliation(tables, index, "support_cost_reduction", q)
    assert list(actual.columns) == COLUMNS
    assert set(actual.composition) == {"ratio", "product", "sum"}
    keys = ["parent", "composition", "period"]
    assert_same_rows(actual, expected, keys, columns=["parent_value", "composed_value"])
    # residuals are differences of nearly equal numbers: compare them on the parent's scale
    left = actual.sort_values(keys).reset_index(drop=True)
    right = expected.sort_values(keys).reset_index(drop=True)
    scale = np.abs(right.parent_value.to_numpy())
    for column, tolerance in (("residual", 1e-9 * scale), ("relative_residual", 1e-9)):
        a, b = left[column].to_numpy(dtype=float), right[column].to_numpy(dtype=float)
        assert (np.isnan(a) == np.isnan(b)).all(), column
        both = ~np.isnan(a)
        assert (np.abs(a - b)[both] <= np.broadcast_to(tolerance, a.shape)[both]).all(), column


ENGAGEMENT = """
metric conversations_per_mau = conversation_count / monthly_active_users
kpi engagement "Engagement" {
  north_star conversations_per_mau
  conversations_per_mau <- ratio(conversation_count, monthly_active_users)
  conversation_count <- drivers(conversations_wow, conversations_growth_wow)
}
"""


def _conversations_per_mau(t: Tables, q: Query) -> pd.Series:
    """Conversations of each period over the distinct users of its 28 days (pandas)."""
    from sql_reference import _active_over, _earlier, conversation_count, ratio, since_start

    return ratio(since_start(conversation_count(t, _earlier(q, 28)), q), _active_over(28)(t, q))


@pytest.mark.parametrize(("grain", "start", "end"), [
    ("day", dt.datetime(2026, 10, 5), dt.datetime(2026, 11, 2)),
    ("day", None, None),
])
def test_a_tree_of_windowed_and_offset_metrics_reconciles(con, tables, tmp_path, monkeypatch,
                                                          grain: str, start, end) -> None:
    """Conversations per monthly active user (a ratio with a rolling distinct count inside)
    is its drivers' ratio exactly, each period from the query's extended scan (28 days
    before the start) equal to pandas; offset metrics sit in the same tree as influences."""
    import contextlib
    import shutil

    from sql_paths import REPO

    from metricspec.workspace import Workspace

    shutil.copytree(REPO / "specs", tmp_path / "specs")
    (tmp_path / "specs" / "engagement.mspec").write_text(ENGAGEMENT, encoding="utf-8")
    with contextlib.chdir(tmp_path):
        ws = Workspace.load(tmp_path / "specs")
    assert ws.ok, ws.render("text")
    monkeypatch.setitem(METRICS, "conversations_per_mau", _conversations_per_mau)
    sql = compile_object(ws.index, "engagement", get_backend("duckdb"),
                         grain=Grain.parse(grain), start=start, end=end).sql
    actual = con.execute(sql).df()
    expected = reconciliation(tables, ws.index, "engagement", Query(grain, (), start, end))
    keys = ["parent", "composition", "period"]
    assert_same_rows(actual, expected, keys, columns=["parent_value", "composed_value"])
    assert set(actual.composition) == {"ratio"}
    assert actual.parent_value.notna().sum() > 20
    residual = actual.residual.to_numpy(dtype=float)
    assert np.nanmax(np.abs(residual)) <= 1e-12
