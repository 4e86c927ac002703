"""The demo warehouse's dimension layer and the checkout experiment (issue 11).

Built in DuckDB from ``support.users`` once the main tables are written, so nothing of the
simulation changes. Every "random" choice is an integer hash of the user's (or account's)
number (`_draw`: a linear step, squared, reduced modulo 2^31 - 1), so the same users give
the same tables on every DuckDB version.

- ``user_profiles``: one row per user: account, country (within the user's region), signup
  date;
- ``accounts``: one row per account (about eight users each): tier and industry;
- ``models``: one row per assistant model version: family and provider;
- ``plan_history``: the slowly changing plan: users not on ``free`` were on ``free`` from
  signup until their upgrade (``valid_to`` NULL on the current row);
- ``checkout_exposures`` / ``checkout_orders``: the *checkout nudge* experiment, with a
  planted Simpson's paradox. Users are new (signed up in the exposure's month or the two
  before) or returning; each exposed user places one order: new users spend 20, returning
  60 (± 2), and the nudge adds 2 in both cohorts — but the assignment is broken: 80% of
  new users and 20% of returning users get the treatment, so overall the treatment arm
  spends *less*. Segmenting by the pre-exposure cohort shows the +2 in every cohort and a
  shifted mix.
"""

from __future__ import annotations

import duckdb

from metricspec.demo.schema import MODEL_VERSIONS, SCHEMA

TABLES = ("user_profiles", "accounts", "models", "plan_history", "checkout_exposures",
          "checkout_orders")
CHECKOUT = "checkout_nudge"
USERS_PER_ACCOUNT = 8
COUNTRIES = {"na": ("us", "ca"), "eu": ("de", "fr", "gb"), "apac": ("jp", "au"),
             "latam": ("br", "mx")}
MODEL_ROWS = (("support-llm", "in-house", "2026-08-20"),
              ("support-llm", "in-house", "2026-11-05"),
              ("support-llm-hotfix", "in-house", "2026-11-16"))


def _draw(number: str, k: int) -> str:
    """SQL: a deterministic draw in [0, 1) from an integer column and a draw number: a
    linear step, then squaring (so draws with different `k` are not shifts of each other)."""
    x = f"((({number}) * 1103515245 + {k} * 12345 + 1) % 2147483648)"
    return f"((({x} * {x}) % 2147483647 * 48271 + {k}) % 2147483647) / 2147483647.0"


def _pick(draw: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    return f"([{listed}])[CAST(floor({draw} * {len(values)}) AS INTEGER) + 1]"


NUMBER = "CAST(substr(u.user_id, 2) AS BIGINT)"
COHORT_NEW = ("extract(year from u.signup_ts) * 12 + extract(month from u.signup_ts) >= "
              "extract(year from x.exposed_ts) * 12 + extract(month from x.exposed_ts) - 2")


def _statements() -> list[str]:
    s = SCHEMA
    country = "CASE u.region " + " ".join(
        f"WHEN '{region}' THEN {_pick(_draw(NUMBER, 1), names)}"
        for region, names in COUNTRIES.items()) + " END"
    account = f"'a' || CAST(({NUMBER} - 1) // {USERS_PER_ACCOUNT} + 1 AS VARCHAR)"
    models = ", ".join(f"('{v}', '{family}', '{provider}', TIMESTAMP '{released}')"
                       for v, (family, provider, released) in zip(MODEL_VERSIONS, MODEL_ROWS,
                                                                   strict=True))
    upgrade = f"u.signup_ts + to_days(CAST(1 + floor({_draw(NUMBER, 2)} * 120) AS INTEGER))"
    return [
        f"""CREATE OR REPLACE TABLE {s}.user_profiles AS
            SELECT u.user_id, {account} AS account_id, {country} AS country,
                   CAST(u.signup_ts AS DATE) AS signup_date
            FROM {s}.users AS u ORDER BY {NUMBER}""",
        f"""CREATE OR REPLACE TABLE {s}.accounts AS
            SELECT account_id,
                   {_pick(_draw("CAST(substr(account_id, 2) AS BIGINT)", 3),
                          ("startup", "growth", "enterprise"))} AS tier,
                   {_pick(_draw("CAST(substr(account_id, 2) AS BIGINT)", 4),
                          ("retail", "software", "finance", "health"))} AS industry
            FROM (SELECT DISTINCT account_id FROM {s}.user_profiles)
            ORDER BY CAST(substr(account_id, 2) AS BIGINT)""",
        f"""CREATE OR REPLACE TABLE {s}.models AS
            SELECT * FROM (VALUES {models})
              AS m(model_version, family, provider, released_ts)""",
        f"""CREATE OR REPLACE TABLE {s}.plan_history AS
            SELECT user_id, valid_from, valid_to, plan FROM (
              SELECT u.user_id, u.signup_ts AS valid_from,
                     CASE WHEN u.plan <> 'free' THEN {upgrade} END AS valid_to,
                     'free' AS plan, {NUMBER} AS n, 0 AS k
              FROM {s}.users AS u
              UNION ALL
              SELECT u.user_id, {upgrade}, NULL, u.plan, {NUMBER}, 1
              FROM {s}.users AS u WHERE u.plan <> 'free')
            ORDER BY n, k""",
        f"""CREATE OR REPLACE TABLE {s}.checkout_exposures AS
            SELECT '{CHECKOUT}' AS experiment_id, x.user_id,
                   CASE WHEN {_draw("x.n", 6)} < CASE WHEN {COHORT_NEW} THEN 0.8 ELSE 0.2 END
                        THEN 'treatment' ELSE 'control' END AS variant,
                   x.exposed_ts
            FROM (SELECT u.user_id, {NUMBER} AS n,
                         TIMESTAMP '2026-11-02' + to_microseconds(CAST(
                           floor({_draw(NUMBER, 5)} * 6 * 86400e6) AS BIGINT)) AS exposed_ts
                  FROM {s}.users AS u) AS x
            JOIN {s}.users AS u ON u.user_id = x.user_id
            WHERE u.signup_ts < x.exposed_ts
            ORDER BY x.n""",
        f"""CREATE OR REPLACE TABLE {s}.checkout_orders AS
            SELECT row_number() OVER (ORDER BY x.n, o.k) AS order_id, x.user_id,
                   x.exposed_ts + to_microseconds(CAST(
                     (1 + o.k) * 3600e6 * (1 + {_draw("x.n * 7 + o.k", 8)}) AS BIGINT)) AS ts,
                   round(CASE WHEN {COHORT_NEW} THEN 20 ELSE 60 END
                         + CASE WHEN x.variant = 'treatment' THEN 2 ELSE 0 END
                         + 4 * ({_draw("x.n * 7 + o.k", 9)} - 0.5), 2) AS amount
            FROM (SELECT e.*, CAST(substr(e.user_id, 2) AS BIGINT) AS n
                  FROM {s}.checkout_exposures AS e) AS x
            JOIN {s}.users AS u ON u.user_id = x.user_id
            JOIN range(1) AS o(k) ON TRUE
            ORDER BY x.n, o.k""",
    ]


def add_dimensions(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Create (or replace) the dimension tables and the checkout experiment; their rows."""
    for statement in _statements():
        con.execute(statement)
    counts = {}
    for table in TABLES:
        found = con.execute(f"SELECT count(*) FROM {SCHEMA}.{table}").fetchone()
        counts[table] = int(found[0]) if found else 0
    return counts
