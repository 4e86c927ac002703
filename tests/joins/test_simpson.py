"""Simpson's paradox, planted and detected (issue 11).

Users are new or returning (a signup date joined from `users`, relative to exposure).
Returning users spend far more. Within each cohort the treatment adds +1 to spend, but
the (broken) assignment puts most new users in treatment, so overall treatment spends
less than control. The analysis must report the reversal and name the mix shift; pandas
gives the effects and numpy the chi-square it is compared with.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from metricspec.report.experiment import build_report
from metricspec.stats.simpson import check, mix_test
from metricspec.workspace import Workspace

SPEC = """\
source users = table shop.users {
  entity user_id: string primary
  time signup_ts: timestamp
  dimension country: string
}
source exposures = table shop.exposures {
  entity user_id: string
  time exposed_ts: timestamp
  dimension cohort = case when user_id.signup_ts >= '2026-10-01' then 'new' else 'returning' end
  dimension country_now = user_id.country
  column variant: string
}
source orders = table shop.orders {
  entity user_id: string, order_id: integer primary
  time ts: timestamp
  column amount: number
}
metric spend = sum(orders.amount)
experiment checkout {
  unit user_id
  assignment exposures variant variant
  variants control 50% control, treatment 50%
  window 2026-11-01 .. 2026-11-08
  primary spend
  segments cohort, country_now
}
"""


def _tables(seed: int = 7) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = 400
    new = np.arange(n) < n // 2
    # new users: 85% in treatment; returning users: 15%
    treated = rng.random(n) < np.where(new, 0.85, 0.15)
    users = pd.DataFrame({
        "user_id": [f"u{i}" for i in range(n)],
        "signup_ts": [dt.datetime(2026, 10, 15) if x else dt.datetime(2025, 3, 1) for x in new],
        "country": rng.choice(["us", "de"], n),
    })
    exposures = pd.DataFrame({
        "user_id": users.user_id, "variant": np.where(treated, "treatment", "control"),
        "exposed_ts": [dt.datetime(2026, 11, 1, 12)] * n,
    })
    spend = np.where(new, 10.0, 50.0) + np.where(treated, 1.0, 0.0) + rng.normal(0, 2, n)
    orders = pd.DataFrame({
        "order_id": range(n), "user_id": users.user_id,
        "ts": [dt.datetime(2026, 11, 2)] * n, "amount": spend.round(3),
    })
    return {"users": users, "exposures": exposures, "orders": orders}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, str, dict]:
    folder: Path = tmp_path_factory.mktemp("simpson")
    (folder / "model.mspec").write_text(SPEC)
    tables = _tables()
    path = folder / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA shop")
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f"CREATE TABLE shop.{name} AS SELECT * FROM frame")
            con.unregister("frame")
    ws = Workspace.load(folder)
    assert ws.ok, ws.render()
    return ws, f"duckdb:///{path}", tables


def test_the_reversal_and_the_mix_shift_are_reported(planted: tuple) -> None:
    ws, url, tables = planted
    outcome = ws.run("checkout", url)
    # pandas: per-cohort and overall differences of mean spend per unit
    frame = tables["exposures"].merge(tables["orders"], on="user_id").merge(
        tables["users"], on="user_id")
    frame["cohort"] = np.where(frame.signup_ts >= dt.datetime(2026, 10, 1), "new", "returning")
    means = frame.groupby(["cohort", "variant"]).amount.mean().unstack()
    within = (means.treatment - means.control).to_dict()
    overall = frame.groupby("variant").amount.mean()
    assert overall.treatment < overall.control and all(d > 0 for d in within.values())

    findings = [c for c in outcome.result.simpson if c.segmentation == "cohort"]
    assert len(findings) == 1
    found = findings[0]
    assert found.reversal and found.mix_shifted
    assert found.overall == pytest.approx(overall.treatment - overall.control, rel=1e-9)
    for cohort, effect in within.items():
        assert found.segment_effects[cohort] == pytest.approx(effect, rel=1e-9)
    # the chi-square of cohort x arm, by hand
    table = pd.crosstab(frame.cohort, frame.variant).to_numpy(dtype=float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    statistic = ((table - expected) ** 2 / expected).sum()
    from scipy.stats import chi2
    assert found.mix_p_value == pytest.approx(chi2.sf(statistic, 1), rel=1e-9)
    # country is balanced by construction: no finding for it
    assert not [c for c in outcome.result.simpson if c.segmentation == "country_now"]

    report = build_report(outcome.plan, outcome.result, warehouse="duckdb")
    warning = [r for r in report.reasons if "Simpson's paradox" in r]
    assert warning and "`spend` by `cohort`" in warning[0] and "`new` is" in warning[0]
    assert any("pre-exposure segments (as of each unit's first exposure): cohort" in c
               for c in report.conventions)
    assert any("current value" in c and "country_now" in c for c in report.conventions)


def test_no_finding_when_segments_agree() -> None:
    agree = check("s", "m", "t", 1.0, {"a": 0.5, "b": 2.0}, {"a": (50, 50), "b": (50, 50)},
                  0.001)
    assert not agree.reversal and not agree.mix_shifted and agree.message == ""
    one_flips = check("s", "m", "t", 1.0, {"a": -0.5, "b": 2.0}, {"a": (50, 50), "b": (50, 50)},
                      0.001)
    assert not one_flips.reversal
    assert mix_test({"a": (10, 0)}) == (None, ())
