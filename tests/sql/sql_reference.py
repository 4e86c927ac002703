"""Independent computations of what the generated SQL must return, with pandas and numpy.

Everything here is written from the meaning of the example specs (`specs/`) and from the
semantics stated in the docstrings of `metricspec.plan` / `metricspec.emit`, never from the
SQL: every metric is spelt out again by hand below, so a wrong filter, a wrong bucket or a
wrong window in the compiler shows up as a difference.

Conventions shared with the SQL (all documented in the plan/emit modules):

* a metric query keeps the events in [start, end) (rolling metrics read `window` earlier,
  cumulative ones from the beginning) and reports a row for every (period, dimensions) any
  of its sources has an event in; a ratio with a zero denominator is NULL;
* rolling windows cover the periods in (p − window, p] — calendar time, so a gap counts —
  and a ratio is rolled as Σ numerator / Σ denominator;
* percentiles are exact, linearly interpolated (numpy ``method="linear"``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

TABLE_NAMES = ("users", "assignments", "conversations", "messages", "feedback",
               "user_profiles", "accounts", "models", "plan_history", "checkout_exposures",
               "checkout_orders", "backlog_snapshots")
DAY = pd.Timedelta(days=1)
ZERO = pd.Timedelta(0)


# ---------------------------------------------------------------- the raw tables


_DIMENSION_COLUMNS = {
    "user_profiles": ("user_id", "account_id", "country", "signup_date"),
    "accounts": ("account_id", "tier", "industry"),
    "models": ("model_version", "family", "provider", "released_ts"),
    "plan_history": ("user_id", "valid_from", "valid_to", "plan"),
    "checkout_exposures": ("experiment_id", "user_id", "variant", "exposed_ts"),
    "checkout_orders": ("order_id", "user_id", "ts", "amount"),
    "backlog_snapshots": ("queue_id", "channel", "snapshot_ts", "open_tickets"),
}


@dataclass(frozen=True)
class Tables:
    """The demo warehouse's tables; nullable integers become float (NaN for NULL)."""

    users: pd.DataFrame
    assignments: pd.DataFrame
    conversations: pd.DataFrame
    messages: pd.DataFrame
    feedback: pd.DataFrame
    user_profiles: pd.DataFrame
    accounts: pd.DataFrame
    models: pd.DataFrame
    plan_history: pd.DataFrame
    checkout_exposures: pd.DataFrame
    checkout_orders: pd.DataFrame
    backlog_snapshots: pd.DataFrame

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection) -> Tables:
        present = {name for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'support'"
        ).fetchall()}
        # a warehouse built without the dimension layer (the edge cases) has them empty
        tables = {name: _plain(con.table(f"support.{name}").df()) if name in present
                  else pd.DataFrame(columns=list(_DIMENSION_COLUMNS[name]))
                  for name in TABLE_NAMES}
        # the dimensions the examples join from other tables, looked up by key here
        profiles = tables["user_profiles"].set_index("user_id")
        tables["feedback"]["country"] = tables["feedback"].user_id.map(profiles.country)
        models = tables["models"].set_index("model_version")
        tables["messages"]["models_family"] = tables["messages"].model_version.map(
            models.family)
        return cls(**tables)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        dtype = out[column].dtype
        if isinstance(dtype, (pd.Int32Dtype, pd.Int64Dtype, pd.Int16Dtype, pd.Int8Dtype)):
            out[column] = out[column].astype("float64")
        elif pd.api.types.is_datetime64_dtype(dtype):
            out[column] = out[column].astype("datetime64[us]")
    return out


def truth(mask: pd.Series | bool) -> pd.Series:
    """SQL truth: NULL is not true."""
    if isinstance(mask, pd.Series):
        return mask.fillna(False).astype(bool)
    return mask  # type: ignore[return-value]


# ---------------------------------------------------------------- metric queries


@dataclass(frozen=True)
class Query:
    """What `compile_object(..., grain=, dimensions=, start=, end=)` asks for."""

    grain: str = "day"
    dims: tuple[str, ...] = ()
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    @property
    def keys(self) -> list[str]:
        return ["period", *self.dims]


def bucket(ts: pd.Series, grain: str) -> pd.Series:
    """The start of the period `ts` falls in (weeks are ISO weeks, from Monday)."""
    if grain == "day":
        out = ts.dt.floor("D")
    elif grain == "hour":
        out = ts.dt.floor("h")
    elif grain.endswith(("minute", "minutes")):
        out = ts.dt.floor(f"{int(grain.split()[0])}min")
    elif grain == "week":
        day = ts.dt.floor("D")
        out = day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    elif grain == "month":
        out = ts.dt.to_period("M").dt.to_timestamp()
    else:
        raise ValueError(grain)
    return out.astype("datetime64[us]")


def rows(frame: pd.DataFrame, time: str, q: Query, lookback: pd.Timedelta = ZERO,
         open_start: bool = False) -> pd.DataFrame:
    """The rows of a source in the query's range, with their period."""
    keep = pd.Series(True, index=frame.index)
    if q.start is not None and not open_start:
        keep &= frame[time] >= pd.Timestamp(q.start) - lookback
    if q.end is not None:
        keep &= frame[time] < pd.Timestamp(q.end)
    out = frame.loc[keep]
    return out.assign(period=bucket(out[time], q.grain))


def _groups(frame: pd.DataFrame, q: Query) -> list[pd.Series]:
    return [frame[k] for k in q.keys]


def count(frame: pd.DataFrame, q: Query, where: pd.Series | None = None,
          column: str | None = None) -> pd.Series:
    """COUNT(*) or COUNT(column) of the rows where `where` holds, per group."""
    value = pd.Series(1.0, index=frame.index)
    if column is not None:
        value = value.where(frame[column].notna())
    if where is not None:
        value = value.where(truth(where))
    return dense(value.groupby(_groups(frame, q), dropna=False).count(), q, 0.0)


def total(frame: pd.DataFrame, q: Query, column: str, where: pd.Series | None = None
          ) -> pd.Series:
    """SUM(column) of the rows where `where` holds (NULL when no value), per group."""
    value = frame[column].astype("float64")
    if where is not None:
        value = value.where(truth(where))
    return dense(value.groupby(_groups(frame, q), dropna=False).sum(min_count=1), q, 0.0)


def distinct(frame: pd.DataFrame, q: Query, column: str) -> pd.Series:
    return dense(frame[column].groupby(_groups(frame, q), dropna=False).nunique(), q, 0.0)


def quantile(frame: pd.DataFrame, q: Query, column: str, level: float,
             where: pd.Series | None = None) -> pd.Series:
    """The exact linear-interpolation quantile of `column` per group (numpy)."""
    value = frame[column].astype("float64")
    if where is not None:
        value = value.where(truth(where))

    def exact(values: pd.Series) -> float:
        present = values.dropna().to_numpy()
        return float(np.quantile(present, level, method="linear")) if len(present) else math.nan

    return dense(value.groupby(_groups(frame, q), dropna=False).agg(exact), q, math.nan)


FREQUENCIES = {"day": "D", "hour": "h", "week": "W-MON", "month": "MS"}


def dense(series: pd.Series, q: Query, fill: float) -> pd.Series:
    """A per-period part over every period of the query's range, `fill` where no row fell
    (metric queries are dense series): from the period of the start (or the first with
    rows) to the period of the last instant before the end (or the last with rows), for
    every dimension value with rows; periods before the start a rolling window reads stay."""
    periods = series.index.get_level_values("period")
    first = (bucket(pd.Series([pd.Timestamp(q.start)]), q.grain)[0] if q.start is not None
             else periods.min())
    last = (bucket(pd.Series([pd.Timestamp(q.end) - pd.Timedelta(seconds=1)]), q.grain)[0]
            if q.end is not None else periods.max())
    if pd.isna(first) or pd.isna(last):
        return series
    freq = (f"{int(q.grain.split()[0])}min" if "minute" in q.grain
            else FREQUENCIES[q.grain])
    spine = pd.date_range(first, last, freq=freq).astype("datetime64[us]")
    if q.dims:
        combos = list(dict.fromkeys(
            tuple(series.index.get_level_values(d)[i] for d in q.dims)
            for i in range(len(series))))
        full = pd.MultiIndex.from_tuples([(p, *c) for p in spine for c in combos],
                                         names=q.keys)
    else:
        full = pd.Index(spine, name="period")
    def text(key: object) -> tuple[str, ...]:  # NULL dimension values compare equal
        return tuple(_texts(pd.Series(list(key) if isinstance(key, tuple) else [key])))

    known = {text(k) for k in series.index.tolist()}
    extra = [k for k in full.tolist() if text(k) not in known]
    keys = [*series.index.tolist(), *extra]
    values = [*series.astype("float64").tolist(), *[fill] * len(extra)]
    index = (pd.MultiIndex.from_tuples(keys, names=q.keys) if q.dims
             else pd.Index(keys, name="period"))  # one construction: NULLs align
    return pd.Series(values, index=index).sort_index()


def ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, aligned on the groups; NULL for a zero denominator."""
    num, den = numerator.align(denominator, join="outer")
    return num.astype("float64") / den.astype("float64").where(den != 0)


def rolled(parts: list[pd.Series], window: pd.Timedelta, q: Query) -> list[pd.Series]:
    """Each part summed over the periods in (p − window, p], per dimension values."""
    columns = [f"part{i}" for i in range(len(parts))]
    frame = pd.DataFrame(dict(zip(columns, parts, strict=True))).reset_index()
    out = []
    pieces = [frame] if not q.dims else [g for _, g in frame.groupby(list(q.dims), dropna=False)]
    summed = []
    for piece in pieces:
        piece = piece.sort_values("period")
        sums = piece.rolling(window, on="period")[columns].sum()
        summed.append(pd.concat([piece[q.keys], sums[columns]], axis=1))
    result = pd.concat(summed).set_index(q.keys).sort_index()
    for column in columns:
        out.append(result[column])
    return out


def cumulated(part: pd.Series, q: Query) -> pd.Series:
    """Running total over periods, per dimension values."""
    part = part.sort_index()
    if not q.dims:
        return part.cumsum()
    return part.groupby(level=list(q.dims), dropna=False).cumsum()


def since_start(series: pd.Series, q: Query) -> pd.Series:
    if q.start is None:
        return series
    periods = series.index.get_level_values("period")
    return series[periods >= pd.Timestamp(q.start)]


# ----- the example metrics, one function each (see specs/quality.mspec, operations.yaml)


def _feedback(t: Tables, q: Query, lookback: pd.Timedelta = ZERO) -> pd.DataFrame:
    return rows(t.feedback, "ts", q, lookback)


def _conversations(t: Tables, q: Query, lookback: pd.Timedelta = ZERO) -> pd.DataFrame:
    return rows(t.conversations, "started_ts", q, lookback)


def _messages(t: Tables, q: Query, lookback: pd.Timedelta = ZERO,
              open_start: bool = False) -> pd.DataFrame:
    return rows(t.messages, "ts", q, lookback, open_start)


def completed(c: pd.DataFrame) -> pd.Series:
    """Resolved without an escalation in the first two turns."""
    return truth(c.resolved & (c.escalation_turn.isna() | (c.escalation_turn > 2)))


def csat_parts(t: Tables, q: Query, lookback: pd.Timedelta = ZERO) -> list[pd.Series]:
    f = _feedback(t, q, lookback)
    return [count(f, q, f.thumbs == "up"), count(f, q, f.thumbs.notna())]


def csat(t: Tables, q: Query) -> pd.Series:
    return ratio(*csat_parts(t, q))


def csat_score(t: Tables, q: Query) -> pd.Series:
    f = _feedback(t, q)
    return ratio(total(f, q, "csat_score"), count(f, q, column="csat_score"))


def ces(t: Tables, q: Query) -> pd.Series:
    f = _feedback(t, q)
    return ratio(total(f, q, "effort_score"), count(f, q, column="effort_score"))


def escalation_rate(t: Tables, q: Query) -> pd.Series:
    c = _conversations(t, q)
    return ratio(count(c, q, c.escalated), count(c, q))


def task_completion(t: Tables, q: Query) -> pd.Series:
    c = _conversations(t, q)
    return ratio(count(c, q, completed(c)), count(c, q))


def deflection_rate(t: Tables, q: Query) -> pd.Series:
    return 1 - escalation_rate(t, q)


def _role_rate(t: Tables, q: Query, role: str, flag: str) -> pd.Series:
    m = _messages(t, q)
    mine = m.role == role
    return ratio(count(m, q, mine & truth(m[flag])), count(m, q, mine))


def hallucination_rate(t: Tables, q: Query) -> pd.Series:
    return _role_rate(t, q, "assistant", "hallucinated")


def retry_rate(t: Tables, q: Query) -> pd.Series:
    return _role_rate(t, q, "user", "is_retry")


def correction_rate(t: Tables, q: Query) -> pd.Series:
    return _role_rate(t, q, "user", "is_correction")


def trust_score(t: Tables, q: Query) -> pd.Series:
    parts = [csat(t, q), task_completion(t, q), 1 - retry_rate(t, q)]
    a, b = parts[0].align(parts[1], join="outer")
    a, c = a.align(parts[2], join="outer")
    b = b.reindex(a.index)
    return 0.5 * a + 0.3 * b + 0.2 * c


def thumbs_up_within_a_day(t: Tables, q: Query) -> pd.Series:
    """Per period: users with a conversation in it; converted when a thumbs-up (at any time)
    follows their first conversation of the period within a day."""
    c = _conversations(t, q)
    first = c.groupby(["user_id", *q.keys], dropna=False)["started_ts"].min().rename("first_at")
    first = first.reset_index().sort_values("first_at", kind="stable")
    ups = t.feedback.loc[t.feedback.thumbs == "up", ["user_id", "ts"]].sort_values("ts")
    matched = pd.merge_asof(first, ups, left_on="first_at", right_on="ts", by="user_id",
                            direction="forward", allow_exact_matches=True)
    matched["hit"] = (matched.ts.notna() & (matched.ts < matched.first_at + DAY)).astype(int)
    grouped = matched.groupby(q.keys, dropna=False)
    return ratio(dense(grouped.hit.sum(), q, 0.0), dense(grouped.hit.count(), q, 0.0))


def csat_7d(t: Tables, q: Query) -> pd.Series:
    num, den = rolled(csat_parts(t, q, 7 * DAY), 7 * DAY, q)
    return since_start(ratio(num, den), q)


def _latency(level: float) -> Callable[[Tables, Query], pd.Series]:
    def metric(t: Tables, q: Query) -> pd.Series:
        m = _messages(t, q)
        return quantile(m, q, "latency_ms", level, m.role == "assistant")

    return metric


def conversation_count(t: Tables, q: Query) -> pd.Series:
    return count(_conversations(t, q), q)


def active_users(t: Tables, q: Query) -> pd.Series:
    return distinct(_conversations(t, q), q, "user_id")


def _active_over(days: int) -> Callable[[Tables, Query], pd.Series]:
    """Users with a conversation in [p + grain - window, p + grain), each counted once, at
    every period p of the dense series (found by brute force over each window's rows)."""
    window = days * DAY

    def metric(t: Tables, q: Query) -> pd.Series:
        c = _conversations(t, q, window)
        spine = distinct(c, q, "user_id")
        step = (pd.Timedelta(minutes=int(q.grain.split()[0])) if "minute" in q.grain
                else pd.Timedelta(**{f"{q.grain}s": 1}))
        values = []
        for key in spine.index:
            period = key[0] if q.dims else key
            stop = period + step
            inside = c[(c.started_ts >= stop - window) & (c.started_ts < stop)]
            for dim, value in zip(q.dims, key[1:] if q.dims else (), strict=True):
                inside = inside[inside[dim].isna() if pd.isna(value) else inside[dim] == value]
            values.append(float(inside.user_id.nunique()))
        return since_start(pd.Series(values, index=spine.index), q)

    return metric


def calendar_month_active_users(t: Tables, q: Query) -> pd.Series:
    """Users with a conversation in [p + grain − 1 month, p + grain) — the month taken by
    `pandas.DateOffset` (31 March − 1 month is 28 February) — each counted once."""
    c = _conversations(t, q, pd.Timedelta(days=31))
    spine = distinct(c, q, "user_id")
    step = pd.DateOffset(months=1) if q.grain == "month" else pd.Timedelta(
        **{f"{q.grain}s": 1})
    values = []
    for key in spine.index:
        period = key[0] if q.dims else key
        stop = period + step
        inside = c[(c.started_ts >= stop - pd.DateOffset(months=1)) & (c.started_ts < stop)]
        for dim, value in zip(q.dims, key[1:] if q.dims else (), strict=True):
            inside = inside[inside[dim].isna() if pd.isna(value) else inside[dim] == value]
        values.append(float(inside.user_id.nunique()))
    return since_start(pd.Series(values, index=spine.index), q)


def conversations_per_active_user(t: Tables, q: Query) -> pd.Series:
    c = _conversations(t, q)
    return ratio(count(c, q), distinct(c, q, "user_id"))


def model_cost_mtd(t: Tables, q: Query) -> pd.Series:
    """Model cost from the first instant of each period's month through the period."""
    part = total(_messages(t, q, open_start=True), q, "cost_usd").sort_index()
    month = part.index.get_level_values("period").to_period("M")
    keys = [month, *(part.index.get_level_values(d) for d in q.dims)]
    return since_start(part.groupby(keys, dropna=False).cumsum(), q)


def conversations_7d(t: Tables, q: Query) -> pd.Series:
    (rolling,) = rolled([count(_conversations(t, q, 7 * DAY), q)], 7 * DAY, q)
    return since_start(rolling, q)


def _earlier(q: Query, days: int) -> Query:
    """The query from `days` before its start: what an offset or a window reads."""
    start = q.start - dt.timedelta(days=days) if q.start is not None else None
    return Query(q.grain, q.dims, start, q.end)


def stickiness(t: Tables, q: Query) -> pd.Series:
    """Active users of each period over the distinct users of its own 28 days; the
    dimension values are those with rows in the 28 days before the start or after it."""
    users = since_start(active_users(t, _earlier(q, 28)), q)
    return ratio(users, _active_over(28)(t, q))


def _week_apart(t: Tables, q: Query) -> tuple[pd.Series, pd.Series]:
    """Conversations in each period, and in the period a week earlier (read from before
    the start; NULL where the series has no such period)."""
    counts = conversation_count(t, _earlier(q, 7))
    moved = counts.rename("value").reset_index()
    moved["period"] = moved["period"] + pd.Timedelta(days=7)
    before = moved.set_index(q.keys)["value"]
    now, then = since_start(counts, q).align(before, join="left")
    return now, then


def conversations_wow(t: Tables, q: Query) -> pd.Series:
    now, then = _week_apart(t, q)
    return now - then


def conversations_growth_wow(t: Tables, q: Query) -> pd.Series:
    now, then = _week_apart(t, q)
    return now / then.where(then != 0) - 1


def total_cost(t: Tables, q: Query) -> pd.Series:
    return total(_messages(t, q), q, "cost_usd")


def cumulative_cost(t: Tables, q: Query) -> pd.Series:
    return since_start(cumulated(total(_messages(t, q, open_start=True), q, "cost_usd"), q), q)


def queries_per_conversation(t: Tables, q: Query) -> pd.Series:
    m = _messages(t, q)
    return ratio(count(m, q, m.role == "user"), count(_conversations(t, q), q))


def _cost_per_query(column: str) -> Callable[[Tables, Query], pd.Series]:
    def metric(t: Tables, q: Query) -> pd.Series:
        m = _messages(t, q)
        return ratio(total(m, q, column), count(m, q, m.role == "user"))

    return metric


cost_per_query = _cost_per_query("cost_usd")


def tokens_per_answer(t: Tables, q: Query) -> pd.Series:
    m = _messages(t, q)
    answer = m.role == "assistant"
    return ratio(total(m, q, "completion_tokens", answer),
                 count(m, q, answer, column="completion_tokens"))


def cost_per_conversation(t: Tables, q: Query) -> pd.Series:
    a, b = cost_per_query(t, q).align(queries_per_conversation(t, q), join="outer")
    return a * b


def cost_per_resolution(t: Tables, q: Query) -> pd.Series:
    c = _conversations(t, q)
    return ratio(total(_messages(t, q), q, "cost_usd"), count(c, q, completed(c)))


def _lookup(frame: pd.DataFrame, key: str, table: pd.DataFrame, column: str) -> pd.Series:
    """A many-to-one lookup (a LEFT JOIN): NULL where the key has no row."""
    return frame[key].map(table.set_index(key)[column])


def enterprise_csat(t: Tables, q: Query) -> pd.Series:
    f = _feedback(t, q)
    enterprise = _lookup(f, "user_id", t.users, "plan") == "enterprise"
    return ratio(count(f, q, (f.thumbs == "up") & enterprise),
                 count(f, q, f.thumbs.notna() & enterprise))


def flagship_latency_p95(t: Tables, q: Query) -> pd.Series:
    m = _messages(t, q)
    flagship = _lookup(m, "model_version", t.models, "family") == "support-llm"
    return quantile(m, q, "latency_ms", 0.95, (m.role == "assistant") & flagship)


def enterprise_account_cost(t: Tables, q: Query) -> pd.Series:
    m = _messages(t, q)
    account = _lookup(m, "user_id", t.user_profiles, "account_id")
    tier = account.map(t.accounts.set_index("account_id").tier)
    return total(m, q, "cost_usd", tier == "enterprise")


def checkout_spend(t: Tables, q: Query) -> pd.Series:
    return total(rows(t.checkout_orders, "ts", q), q, "amount")


def backlog(t: Tables, q: Query) -> pd.Series:
    """A balance: in each period, each queue's rows at its latest snapshot time (ties
    kept), summed over queues; a period (or dimension value) without snapshot rows has no
    value (NULL)."""
    frame = rows(t.backlog_snapshots, "snapshot_ts", q)
    latest = frame.groupby([frame.period, frame.queue_id], dropna=False).snapshot_ts.transform(
        "max")
    chosen = frame[frame.snapshot_ts == latest]
    value = chosen.open_tickets.astype("float64")
    return dense(value.groupby(_groups(chosen, q), dropna=False).sum(min_count=1), q, math.nan)


METRICS: dict[str, Callable[[Tables, Query], pd.Series]] = {
    "backlog": backlog,
    "enterprise_csat": enterprise_csat,
    "flagship_latency_p95": flagship_latency_p95,
    "enterprise_account_cost": enterprise_account_cost,
    "checkout_spend": checkout_spend,
    "csat": csat,
    "csat_score": csat_score,
    "ces": ces,
    "escalation_rate": escalation_rate,
    "task_completion": task_completion,
    "deflection_rate": deflection_rate,
    "hallucination_rate": hallucination_rate,
    "retry_rate": retry_rate,
    "correction_rate": correction_rate,
    "trust_score": trust_score,
    "thumbs_up_within_a_day": thumbs_up_within_a_day,
    "csat_7d": csat_7d,
    "latency_p50": _latency(0.5),
    "latency_p95": _latency(0.95),
    "latency_p99": _latency(0.99),
    "conversation_count": conversation_count,
    "active_users": active_users,
    "conversations_7d": conversations_7d,
    "weekly_active_users": _active_over(7),
    "monthly_active_users": _active_over(28),
    "stickiness": stickiness,
    "conversations_wow": conversations_wow,
    "conversations_growth_wow": conversations_growth_wow,
    "total_cost": total_cost,
    "cumulative_cost": cumulative_cost,
    "queries_per_conversation": queries_per_conversation,
    "cost_per_query": cost_per_query,
    "prompt_cost_per_query": _cost_per_query("prompt_cost_usd"),
    "completion_cost_per_query": _cost_per_query("completion_cost_usd"),
    "tokens_per_answer": tokens_per_answer,
    "cost_per_conversation": cost_per_conversation,
    "cost_per_resolution": cost_per_resolution,
    "calendar_month_active_users": calendar_month_active_users,
    "conversations_per_active_user": conversations_per_active_user,
    "model_cost_mtd": model_cost_mtd,
}
COUNT_METRICS = {"conversation_count", "active_users", "conversations_7d", "backlog",
                 "weekly_active_users", "monthly_active_users", "calendar_month_active_users"}


def metric_frame(t: Tables, name: str, q: Query) -> pd.DataFrame:
    """The expected result of a metric query: key columns and the metric's column."""
    series = METRICS[name](t, q).rename(name)
    frame = series.reset_index()
    return frame.sort_values(q.keys, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- comparing


def assert_same_rows(actual: pd.DataFrame, expected: pd.DataFrame, keys: Iterable[str], *,
                     exact: Iterable[str] = (), rel: float = 1e-9, abs_tol: float = 1e-12,
                     columns: Iterable[str] | None = None) -> None:
    """Equal key sets; exact columns equal; the others within `rel` (relative); NULL where
    and only where the other side is NULL."""
    keys, exact = list(keys), set(exact)
    columns = [c for c in (columns or expected.columns) if c not in keys]
    left = _normalised(actual, keys)
    right = _normalised(expected, keys)
    assert len(left) == len(right), (
        f"{len(left)} rows, expected {len(right)}\nonly in SQL:\n"
        f"{_only(left, right, keys)}\nonly in reference:\n{_only(right, left, keys)}")
    for key in keys:
        a, b = left[key], right[key]
        same = (a.isna() & b.isna()) | (a.astype(object) == b.astype(object))
        assert same.all(), f"key `{key}` differs:\n{_only(left, right, keys)}"
    for column in columns:
        a = pd.to_numeric(left[column], errors="coerce").astype("float64").to_numpy()
        b = pd.to_numeric(right[column], errors="coerce").astype("float64").to_numpy()
        null_a, null_b = np.isnan(a), np.isnan(b)
        bad = null_a != null_b
        both = ~null_a & ~null_b
        if column in exact:
            bad |= both & (a != b)
        else:
            scale = np.maximum(np.abs(a), np.abs(b))
            bad |= both & (np.abs(a - b) > rel * scale + abs_tol)
        if bad.any():
            shown = left.loc[bad, keys].assign(sql=a[bad], reference=b[bad]).head(10)
            raise AssertionError(f"`{column}` differs in {int(bad.sum())} of {len(a)} rows:\n"
                                 f"{shown.to_string()}")


def _normalised(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for key in keys:
        if pd.api.types.is_datetime64_any_dtype(out[key]):
            out[key] = out[key].astype("datetime64[us]")
        else:
            out[key] = out[key].astype(object).where(out[key].notna(), None)
    order = [np.array(_texts(out[k]), dtype=object) for k in reversed(keys)]
    return out.iloc[np.lexsort(order)].reset_index(drop=True)


def _texts(column: pd.Series) -> list[str]:
    return ["\0NULL" if pd.isna(v) else str(v) for v in column.tolist()]


def _only(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> str:
    ka = set(zip(*[_texts(a[k]) for k in keys], strict=True))
    kb = set(zip(*[_texts(b[k]) for k in keys], strict=True))
    return "\n".join(map(str, sorted(ka - kb)[:10]))
