"""`metricspec plan --warehouse`: the historical baseline query and the sizes it implies,
against pandas on the same warehouse and the textbook sample-size formula with scipy.

The warehouse is built so that every metric of the experiment reads one source with many
events per unit (the shape in which a union of event rows once counted events as units):
a mean, a proportion, a ratio, a percentile and a conversion. The historical window is the
`days` before the experiment's start; a unit is any non-NULL unit with an event of a metric
source in it, counted once, "exposed" at the window start; CUPED's pre-period is the same
length before the historical window as before the experiment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from metricspec.cli import app

START, DAYS, CUPED_DAYS = dt.datetime(2026, 3, 1), 14, 7
HISTORY = (START - dt.timedelta(days=DAYS), START)
PRE = (HISTORY[0] - dt.timedelta(days=CUPED_DAYS), HISTORY[0])
ALPHA, POWER, MDE = 0.05, 0.8, 0.05

SPEC = """
source assignments = table shop.assignments {
  entity user_id: string
  time assigned_ts: timestamp
  column variant: string
}
source events = table shop.events {
  entity user_id: string
  time ts: timestamp
  column kind: string, amount: number
}
metric spend = sum(events.amount)
metric buyers = count_distinct(events.user_id where kind = 'buy')
metric buy_rate = count(events where kind = 'buy') / count(events)
metric amount_p90 = p90(events.amount)
metric view_to_buy = conversion(events where kind = 'view' -> events where kind = 'buy',
                                within 1 day, by user_id)
experiment shop_test {
  unit user_id
  assignment assignments variant variant
  variants control 50% control, treatment 50%
  window 2026-03-01 .. 2026-03-14
  primary spend
  secondary buyers, buy_rate, view_to_buy, amount_p90
  mde 5% relative
  correction none
}
experiment shop_cuped {
  unit user_id
  assignment assignments variant variant
  variants control 50% control, treatment 50%
  window 2026-03-01 .. 2026-03-14
  primary spend
  mde 5% relative
  cuped 7 days
}
experiment shop_funnel {
  unit user_id
  assignment assignments variant variant
  variants control 50% control, treatment 50%
  window 2026-03-01 .. 2026-03-14
  primary view_to_buy
  mde 5% relative
}
"""


def _events(seed: int = 5) -> pd.DataFrame:
    """Many events per unit before, in and after the historical window; NULL units and
    amounts; views followed by buys within and beyond a day."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[Any, ...]] = []
    begin, end = PRE[0] - dt.timedelta(days=3), START + dt.timedelta(days=5)
    seconds = int((end - begin).total_seconds())
    for i in range(240):
        user = f"u{i:03d}"
        spender = rng.gamma(2.0, 10.0)
        for _ in range(int(rng.poisson(14)) + (1 if i % 7 else 0)):
            at = begin + dt.timedelta(seconds=int(rng.integers(seconds)))
            kind = rng.choice(["view", "buy", "other"], p=[0.5, 0.2, 0.3])
            amount = None if rng.random() < 0.05 else round(float(rng.gamma(2.0, spender)), 2)
            rows.append((user, at, str(kind), amount))
            if kind == "view" and rng.random() < 0.3:
                later = at + dt.timedelta(hours=float(rng.uniform(0, 40)))
                rows.append((user, later, "buy", round(float(rng.gamma(2.0, spender)), 2)))
    for j in range(30):
        at = begin + dt.timedelta(seconds=int(rng.integers(seconds)))
        rows.append((None, at, "view", float(j)))
    return pd.DataFrame(rows, columns=["user_id", "ts", "kind", "amount"])


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("history")
    (folder / "specs").mkdir()
    (folder / "specs" / "shop.mspec").write_text(SPEC, encoding="utf-8")
    events = _events()
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute("CREATE SCHEMA shop")
    con.execute("CREATE TABLE shop.assignments (user_id VARCHAR, assigned_ts TIMESTAMP, "
                "variant VARCHAR)")
    con.register("incoming", events)
    con.execute("CREATE TABLE shop.events AS SELECT user_id::VARCHAR AS user_id, ts, "
                "kind::VARCHAR AS kind, amount::DOUBLE AS amount FROM incoming")
    con.close()
    return folder, events


def _plan(folder: Path, experiment: str, fmt: str = "json") -> Any:
    with contextlib.chdir(folder):
        result = CliRunner().invoke(app, ["plan", experiment, "--spec-dir", "specs",
                                          "--warehouse", "duckdb:///warehouse.duckdb",
                                          "--format", fmt])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if fmt == "json" else result.stdout


def _in(frame: pd.DataFrame, window: tuple[dt.datetime, dt.datetime]) -> pd.DataFrame:
    return frame[(frame.ts >= window[0]) & (frame.ts < window[1]) & frame.user_id.notna()]


def _units(events: pd.DataFrame) -> pd.DataFrame:
    """Per historical unit: spend, bought, buys, events, started, converted, pre-spend."""
    window = _in(events, HISTORY)
    units = pd.DataFrame(index=pd.Index(sorted(window.user_id.unique()), name="user_id"))
    grouped = window.groupby("user_id")
    units["spend"] = grouped.amount.sum()
    units["buys"] = window[window.kind == "buy"].groupby("user_id").size()
    units["events"] = grouped.size()
    first_view = window[window.kind == "view"].groupby("user_id").ts.min()
    buys = window[window.kind == "buy"].merge(first_view.rename("first").reset_index())
    hit = buys[(buys.ts >= buys["first"]) & (buys.ts < buys["first"] + pd.Timedelta(days=1))]
    units["started"] = units.index.isin(first_view.index).astype(float)
    units["converted"] = units.index.isin(hit.user_id).astype(float)
    units["pre_spend"] = _in(events, PRE).groupby("user_id").amount.sum()
    units = units.fillna(0.0)
    units["bought"] = (units.buys > 0).astype(float)
    return units


def _ratio(x: pd.Series, y: pd.Series) -> tuple[float, float]:
    """Σx/Σy and its per-unit delta-method variance (sample covariances)."""
    mx, my = x.mean(), y.mean()
    cov = np.cov(np.vstack([x, y]), ddof=1)
    grad = np.array([1.0 / my, -mx / my**2])
    return x.sum() / y.sum(), float(grad @ cov @ grad)


def _per_arm(var_c: float, var_t: float, delta: float) -> float:
    """Units per arm of an even split: (z₁₋α/₂ + z₁₋β)²(σ_c² + σ_t²)/δ²."""
    z = stats.norm.ppf(1 - ALPHA / 2) + stats.norm.ppf(POWER)
    return float(z**2 * (var_c + var_t) / delta**2)


def test_the_warehouse_has_many_events_per_unit(shop) -> None:
    _, events = shop
    window = _in(events, HISTORY)
    assert len(window) > 5 * window.user_id.nunique()


def test_units_and_traffic_are_distinct_units(shop) -> None:
    folder, events = shop
    document = _plan(folder, "shop_test")
    units = _units(events)
    baselines = document["baselines"]
    assert baselines["daily_units"] == pytest.approx(len(units) / DAYS, rel=1e-12)
    assert baselines["units_in_window"] == pytest.approx(len(units) / DAYS * DAYS, rel=1e-12)


def test_every_metric_kind_is_sized_from_the_history(shop) -> None:
    folder, events = shop
    units = _units(events)
    daily = len(units) / DAYS
    power = {m["name"]: m["power"] for m in _plan(folder, "shop_test")["metrics"]}

    value = units.spend.mean()
    var = units.spend.var(ddof=1)
    expected: dict[str, tuple[float, float, float, float]] = {
        "spend": (value, var, var, MDE * value)}
    p = units.bought.mean()
    expected["buyers"] = (p, p * (1 - p), (p + MDE * p) * (1 - p - MDE * p), MDE * p)
    for name, x, y in (("buy_rate", units.buys, units.events),
                       ("view_to_buy", units.converted, units.started)):
        value, var = _ratio(x, y)
        expected[name] = (value, var, var, MDE * value)
    for name, (value, var_c, var_t, delta) in expected.items():
        got = power[name]
        assert got.get("reason") is None, (name, got)
        assert got["baseline_value"] == pytest.approx(value, rel=1e-9), name
        assert got["baseline_variance"] == pytest.approx(var_c, rel=1e-9), name
        per_arm = _per_arm(var_c, var_t, delta)
        assert got["exact_per_variant"]["control"] == pytest.approx(per_arm, rel=1e-9), name
        assert got["n_per_variant"]["control"] == math.ceil(per_arm), name
        assert got["duration_days"] == pytest.approx(2 * per_arm / daily, rel=1e-9), name
    assert power["amount_p90"]["reason"] == "power for percentile metrics is not supported"


def test_cuped_reduction_uses_the_pre_period_before_the_history(shop) -> None:
    folder, events = shop
    units = _units(events)
    got = next(m["power"] for m in _plan(folder, "shop_cuped")["metrics"]
               if m["name"] == "spend")
    rho = np.corrcoef(units.spend, units.pre_spend)[0, 1]
    assert got["variance_reduction"] == pytest.approx(rho**2, rel=1e-9)
    var = units.spend.var(ddof=1) * (1 - rho**2)
    per_arm = _per_arm(var, var, MDE * units.spend.mean())
    assert got["exact_per_variant"]["treatment"] == pytest.approx(per_arm, rel=1e-9)


def test_baseline_rows_equal_pandas(shop) -> None:
    """The long-format rows of the historical query: units, Σx, Σx², and the percentile."""
    from metricspec.backends import get_backend
    from metricspec.emit.experiment_sql import experiment_sql
    from metricspec.emit.render import render_sql
    from metricspec.emit.sqlbuild import SqlBuilder
    from metricspec.plan.experiment import history_plan, plan_experiment
    from metricspec.workspace import Workspace

    folder, events = shop
    with contextlib.chdir(folder):
        ws = Workspace.load(Path("specs"))
    assert ws.ok, ws.render("text")
    planned = plan_experiment(ws.index, "shop_test")
    backend = get_backend("duckdb")
    sql = render_sql(experiment_sql(history_plan(planned, *HISTORY), SqlBuilder(backend)),
                     backend, kind="baseline query", name="shop_test", files=planned.files)
    con = duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True)
    rows = con.execute(sql).df()
    con.close()
    rows = rows[(rows.segment == "all") & (rows.variant == "baseline")].set_index("metric")
    units = _units(events)
    assert rows.loc["__units__", "n"] == len(units)
    for metric, x in (("spend", units.spend), ("buyers", units.bought),
                      ("buy_rate", units.buys), ("view_to_buy", units.converted)):
        assert rows.loc[metric, "n"] == len(units), metric
        assert rows.loc[metric, "sum_x"] == pytest.approx(x.sum(), rel=1e-12), metric
        assert rows.loc[metric, "sum_x2"] == pytest.approx((x * x).sum(), rel=1e-12), metric
    window = _in(events, HISTORY)
    amounts = window.amount.dropna().to_numpy()
    assert rows.loc["amount_p90", "n"] == window[window.amount.notna()].user_id.nunique()
    assert rows.loc["amount_p90", "sum_y"] == len(amounts)
    assert rows.loc["amount_p90", "q"] == pytest.approx(
        np.quantile(amounts, 0.9, method="linear"), rel=1e-12)


def test_a_conversion_alone_is_sized_from_both_of_its_sources(shop) -> None:
    """No component or percentile reads a source: the units come from the conversion's."""
    folder, events = shop
    units = _units(events)
    document = _plan(folder, "shop_funnel")
    assert document["baselines"]["daily_units"] == pytest.approx(len(units) / DAYS, rel=1e-12)
    value, var = _ratio(units.converted, units.started)
    got = document["metrics"][0]["power"]
    assert got["exact_per_variant"]["control"] == pytest.approx(
        _per_arm(var, var, MDE * value), rel=1e-9)


def test_the_plan_states_the_cuped_pre_period(shop) -> None:
    """The pre-period is the same calendar period for every unit: D days before the window
    start (docs/language.md, docs/statistics.md), in the JSON and the Markdown plan."""
    folder, _ = shop
    design = _plan(folder, "shop_cuped")["design"]
    assert design["cuped_pre_period"]["start"] == "2026-02-22T00:00:00"
    assert design["cuped_pre_period"]["end_exclusive"] == "2026-03-01T00:00:00"
    markdown = _plan(folder, "shop_cuped", "md")
    line = next(x for x in markdown.splitlines() if x.startswith("| Variance reduction"))
    assert "2026-02-22T00:00:00 to 2026-03-01T00:00:00" in line
    assert "before the window start" in line and "every unit" in line
