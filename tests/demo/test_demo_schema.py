"""The warehouse matches its documented schema and its internal consistency rules."""

from __future__ import annotations

import pytest
from demo_warehouse import Warehouse

# The dimension layer and the checkout experiment (metricspec/demo/dimensions.py)
DIMENSION_TABLES = {
    "user_profiles": [("user_id", "VARCHAR"), ("account_id", "VARCHAR"), ("country", "VARCHAR"),
                      ("signup_date", "DATE")],
    "accounts": [("account_id", "VARCHAR"), ("tier", "VARCHAR"), ("industry", "VARCHAR")],
    "models": [("model_version", "VARCHAR"), ("family", "VARCHAR"), ("provider", "VARCHAR"),
               ("released_ts", "TIMESTAMP")],
    "plan_history": [("user_id", "VARCHAR"), ("valid_from", "TIMESTAMP"),
                     ("valid_to", "TIMESTAMP"), ("plan", "VARCHAR")],
    "checkout_exposures": [("experiment_id", "VARCHAR"), ("user_id", "VARCHAR"),
                           ("variant", "VARCHAR"), ("exposed_ts", "TIMESTAMP")],
    "checkout_orders": [("order_id", "BIGINT"), ("user_id", "VARCHAR"), ("ts", "TIMESTAMP"),
                        ("amount", "DOUBLE")],
    # the snapshot table of balances (metricspec/demo/backlog.py)
    "backlog_snapshots": [("queue_id", "VARCHAR"), ("channel", "VARCHAR"),
                          ("snapshot_ts", "TIMESTAMP"), ("open_tickets", "INTEGER")],
}

EXPECTED = {
    **DIMENSION_TABLES,
    "users": [
        ("user_id", "VARCHAR"),
        ("signup_ts", "TIMESTAMP"),
        ("plan", "VARCHAR"),
        ("region", "VARCHAR"),
        ("locale", "VARCHAR"),
    ],
    "assignments": [
        ("experiment_id", "VARCHAR"),
        ("user_id", "VARCHAR"),
        ("variant", "VARCHAR"),
        ("assigned_ts", "TIMESTAMP"),
        ("platform", "VARCHAR"),
    ],
    "conversations": [
        ("conversation_id", "VARCHAR"),
        ("user_id", "VARCHAR"),
        ("started_ts", "TIMESTAMP"),
        ("ended_ts", "TIMESTAMP"),
        ("channel", "VARCHAR"),
        ("model_version", "VARCHAR"),
        ("locale", "VARCHAR"),
        ("turns", "INTEGER"),
        ("escalated", "BOOLEAN"),
        ("escalation_turn", "INTEGER"),
        ("resolved", "BOOLEAN"),
    ],
    "messages": [
        ("message_id", "BIGINT"),
        ("conversation_id", "VARCHAR"),
        ("user_id", "VARCHAR"),
        ("ts", "TIMESTAMP"),
        ("turn", "INTEGER"),
        ("role", "VARCHAR"),
        ("channel", "VARCHAR"),
        ("model_version", "VARCHAR"),
        ("latency_ms", "DOUBLE"),
        ("prompt_tokens", "INTEGER"),
        ("completion_tokens", "INTEGER"),
        ("prompt_cost_usd", "DOUBLE"),
        ("completion_cost_usd", "DOUBLE"),
        ("cost_usd", "DOUBLE"),
        ("hallucinated", "BOOLEAN"),
        ("is_retry", "BOOLEAN"),
        ("is_correction", "BOOLEAN"),
    ],
    "feedback": [
        ("feedback_id", "BIGINT"),
        ("conversation_id", "VARCHAR"),
        ("user_id", "VARCHAR"),
        ("ts", "TIMESTAMP"),
        ("channel", "VARCHAR"),
        ("thumbs", "VARCHAR"),
        ("csat_score", "INTEGER"),
        ("effort_score", "INTEGER"),
    ],
}

VOCABULARIES = [
    ("users", "plan", {"free", "pro", "enterprise"}),
    ("users", "region", {"na", "eu", "apac", "latam"}),
    ("users", "locale", {"en-US", "de-DE", "fr-FR", "es-ES", "ja-JP"}),
    # treatment_hotfix: the undeclared variant a deploy logs in prompt_template_v3
    ("assignments", "variant", {"control", "treatment", "treatment_hotfix"}),
    ("assignments", "platform", {"web", "ios", "android"}),
    (
        "assignments",
        "experiment_id",
        {"summarizer_v2", "prompt_template_v3", "greeting_aa", "tone_tuning"},
    ),
    ("conversations", "channel", {"chat", "email", "voice"}),
    ("conversations", "locale", {"en-US", "de-DE", "fr-FR", "es-ES", "ja-JP"}),
    ("messages", "role", {"user", "assistant"}),
    ("feedback", "thumbs", {"up", "down", None}),
]


def test_tables_have_exactly_the_documented_columns_and_types(warehouse: Warehouse) -> None:
    for table, columns in EXPECTED.items():
        actual = warehouse.rows(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'support' AND table_name = ? ORDER BY ordinal_position",
            table,
        )
        assert actual == columns, table
    tables = warehouse.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'support' ORDER BY 1"
    )
    assert [t for (t,) in tables] == sorted(EXPECTED)


@pytest.mark.parametrize(("table", "column", "allowed"), VOCABULARIES)
def test_categorical_columns_use_their_vocabulary(
    warehouse: Warehouse, table: str, column: str, allowed: set[str | None]
) -> None:
    seen = {v for (v,) in warehouse.rows(f"SELECT DISTINCT {column} FROM support.{table}")}
    assert seen == allowed


def test_row_counts_match_the_summary(warehouse: Warehouse) -> None:
    for table, count in warehouse.summary.rows.items():
        assert warehouse.value(f"SELECT count(*) FROM support.{table}") == count
    assert warehouse.summary.rows["users"] == 3000


def test_ids_are_unique_and_references_resolve(warehouse: Warehouse) -> None:
    for table, key in [
        ("users", "user_id"),
        ("conversations", "conversation_id"),
        ("messages", "message_id"),
        ("feedback", "feedback_id"),
    ]:
        assert warehouse.value(f"SELECT count(*) - count(DISTINCT {key}) FROM support.{table}") == 0
    for child in ["assignments", "conversations", "messages", "feedback"]:
        orphans = warehouse.value(
            f"SELECT count(*) FROM support.{child} c ANTI JOIN support.users u USING (user_id)"
        )
        assert orphans == 0, child
    for child in ["messages", "feedback"]:
        mismatched = warehouse.value(
            f"SELECT count(*) FROM support.{child} x LEFT JOIN support.conversations c "
            "USING (conversation_id) WHERE c.user_id IS DISTINCT FROM x.user_id "
            "OR c.channel IS DISTINCT FROM x.channel"
        )
        assert mismatched == 0, child


def test_everything_happens_inside_the_data_period(warehouse: Warehouse) -> None:
    for table, column in [
        ("assignments", "assigned_ts"),
        ("conversations", "started_ts"),
        ("conversations", "ended_ts"),
        ("messages", "ts"),
        ("feedback", "ts"),
    ]:
        lo, hi = warehouse.rows(f"SELECT min({column}), max({column}) FROM support.{table}")[0]
        assert str(lo) >= "2026-09-01" and str(hi) < "2026-11-17", (table, column)
    assert (
        warehouse.value("SELECT count(*) FROM support.users WHERE signup_ts >= '2026-11-17'") == 0
    )


def test_message_columns_follow_the_role_rules(warehouse: Warehouse) -> None:
    broken = warehouse.value("""
        SELECT count(*) FROM support.messages WHERE
          (role = 'user' AND (latency_ms IS NOT NULL OR hallucinated IS NOT NULL
                              OR is_retry IS NULL OR is_correction IS NULL
                              OR cost_usd <> 0 OR completion_tokens <> 0))
          OR (role = 'assistant' AND (latency_ms IS NULL OR latency_ms <= 0
                              OR hallucinated IS NULL OR is_retry IS NOT NULL
                              OR is_correction IS NOT NULL OR completion_tokens <= 0))
          OR abs(cost_usd - (prompt_cost_usd + completion_cost_usd)) > 1e-12
          OR prompt_tokens <= 0""")
    assert broken == 0


def test_messages_agree_with_their_conversation(warehouse: Warehouse) -> None:
    broken = warehouse.value("""
        WITH m AS (
          SELECT conversation_id, count(*) AS n, max(turn) AS turns, min(ts) AS first_ts,
                 max(ts) AS last_ts, count(*) FILTER (WHERE role = 'user') AS asked,
                 count(DISTINCT model_version) AS models
          FROM support.messages GROUP BY conversation_id)
        SELECT count(*) FROM support.conversations c LEFT JOIN m USING (conversation_id)
        WHERE m.n IS DISTINCT FROM 2 * c.turns OR m.turns <> c.turns OR m.asked <> c.turns
           OR m.first_ts <> c.started_ts OR m.last_ts <> c.ended_ts OR m.models <> 1""")
    assert broken == 0
    # Within a conversation, turns alternate user then assistant and time moves forward.
    disorder = warehouse.value("""
        SELECT count(*) FROM (
          SELECT role, ts, turn, lag(ts) OVER w AS prev_ts, lag(role) OVER w AS prev_role,
                 lag(turn) OVER w AS prev_turn
          FROM support.messages WINDOW w AS (PARTITION BY conversation_id ORDER BY message_id))
        WHERE prev_ts IS NOT NULL AND (ts < prev_ts OR role = prev_role
              OR (role = 'user' AND turn <> prev_turn + 1)
              OR (role = 'assistant' AND turn <> prev_turn))""")
    assert disorder == 0


def test_conversation_outcomes_are_consistent(warehouse: Warehouse) -> None:
    broken = warehouse.value("""
        SELECT count(*) FROM support.conversations WHERE
          turns < 1 OR ended_ts < started_ts
          OR (escalated AND (escalation_turn IS NULL OR escalation_turn <> turns OR resolved))
          OR (NOT escalated AND escalation_turn IS NOT NULL)""")
    assert broken == 0
    locale_mismatch = warehouse.value(
        "SELECT count(*) FROM support.conversations c JOIN support.users u USING (user_id) "
        "WHERE c.locale <> u.locale"
    )
    assert locale_mismatch == 0


def test_feedback_follows_the_conversation_and_has_valid_scores(warehouse: Warehouse) -> None:
    broken = warehouse.value("""
        SELECT count(*) FROM support.feedback f JOIN support.conversations c USING (conversation_id)
        WHERE f.ts <= c.ended_ts
           OR (thumbs IS NULL AND csat_score IS NULL AND effort_score IS NULL)
           OR csat_score NOT BETWEEN 1 AND 5 OR effort_score NOT BETWEEN 1 AND 7""")
    assert broken == 0
    per_conversation = warehouse.value(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM support.feedback GROUP BY conversation_id)"
    )
    assert per_conversation == 1
    for score, top in [("csat_score", 5), ("effort_score", 7)]:
        seen = {v for (v,) in warehouse.rows(f"SELECT DISTINCT {score} FROM support.feedback")}
        assert seen == {None, *range(1, top + 1)}, score


def test_assignments_are_exposures_at_conversation_starts(warehouse: Warehouse) -> None:
    # A user's first exposure is the start of their first conversation inside the window.
    for experiment, (start, end) in {
        "summarizer_v2": ("2026-10-01", "2026-10-15"),
        "prompt_template_v3": ("2026-10-15", "2026-10-29"),
    }.items():
        mismatched = warehouse.value(f"""
            WITH first_exposure AS (
              SELECT user_id, min(assigned_ts) AS ts FROM support.assignments
              WHERE experiment_id = '{experiment}' GROUP BY user_id),
            first_conversation AS (
              SELECT user_id, min(started_ts) AS ts FROM support.conversations
              WHERE started_ts >= '{start}' AND started_ts < '{end}' GROUP BY user_id)
            SELECT count(*) FROM first_exposure e JOIN first_conversation c USING (user_id)
            WHERE e.ts <> c.ts""")
        assert mismatched == 0, experiment
        outside = warehouse.value(
            f"SELECT count(*) FROM support.assignments WHERE experiment_id = '{experiment}' "
            f"AND (assigned_ts < '{start}' OR assigned_ts >= '{end}')"
        )
        assert outside == 0
    repeats = warehouse.value("""
        SELECT avg(n) FROM (SELECT count(*) AS n FROM support.assignments
                            WHERE experiment_id = 'summarizer_v2' GROUP BY user_id)""")
    assert repeats > 1.5


def test_summary_reports_the_ground_truth(warehouse: Warehouse) -> None:
    summary = warehouse.summary
    assert [e.experiment_id for e in summary.experiments] == [
        "summarizer_v2",
        "prompt_template_v3",
        "greeting_aa",
        "tone_tuning",
    ]
    summarizer = summary.experiment("summarizer_v2")
    assert (summarizer.window_start, summarizer.window_end) == (
        "2026-10-01T00:00:00",
        "2026-10-15T00:00:00",
    )
    assert summarizer.split == (0.5, 0.5) and summarizer.arms == ("control", "treatment")
    effect = summarizer.effect("thumbs_up_share")
    assert effect is not None and effect.value == pytest.approx(0.05)
    assert summary.incident.start_us < summary.incident.end_us
    assert summary.to_dict()["incident"]["start"] == "2026-11-16T14:00:00"
    assert summary.period_start == "2026-09-01T00:00:00"
    assert summary.period_end == "2026-11-17T00:00:00"


def test_summary_exposure_counts_match_the_assignments_table(warehouse: Warehouse) -> None:
    for truth in warehouse.summary.experiments:
        logged = dict(
            warehouse.rows(
                "SELECT variant, count(DISTINCT user_id) FROM support.assignments "
                "WHERE experiment_id = ? GROUP BY 1",
                truth.experiment_id,
            )
        )
        assert (logged["control"], logged["treatment"]) == truth.logged_users
        both = warehouse.value(
            "SELECT count(*) FROM (SELECT user_id FROM support.assignments WHERE experiment_id = ? "
            "AND variant IN ('control', 'treatment') "  # not the planted undeclared variant
            "GROUP BY 1 HAVING count(DISTINCT variant) = 2)",
            truth.experiment_id,
        )
        assert both == truth.multi_arm_users
        assert truth.lost_users == 0 or truth.experiment_id == "tone_tuning"
    tone = warehouse.summary.experiment("tone_tuning")
    assert tone.lost_users > 0.1 * tone.exposed_users[1]


def test_dimension_tables_hold_one_row_per_key(warehouse: Warehouse) -> None:
    """The keys the specs declare `primary` are unique; each user has exactly one plan at
    any instant of the plan history, the current one ending open."""
    for table, key in (("user_profiles", "user_id"), ("accounts", "account_id"),
                       ("models", "model_version")):
        [(rows, keys)] = warehouse.rows(
            f"SELECT count(*), count(DISTINCT {key}) FROM support.{table}")
        assert rows == keys > 0, table
    [(overlaps,)] = warehouse.rows(
        "SELECT count(*) FROM support.plan_history a JOIN support.plan_history b "
        "ON a.user_id = b.user_id AND a.valid_from < b.valid_from "
        "AND (a.valid_to IS NULL OR a.valid_to > b.valid_from)")
    assert overlaps == 0
    [(users, current)] = warehouse.rows(
        "SELECT (SELECT count(*) FROM support.users), "
        "count(*) FILTER (WHERE valid_to IS NULL) FROM support.plan_history")
    assert users == current


def test_the_checkout_experiment_hides_its_effect_in_the_cohort_mix(
        warehouse: Warehouse) -> None:
    """The planted Simpson's paradox: +2 in every cohort, less overall, a shifted mix."""
    rows = warehouse.rows("""
        SELECT CASE WHEN extract(year FROM u.signup_ts) * 12 + extract(month FROM u.signup_ts)
                         >= extract(year FROM e.exposed_ts) * 12
                            + extract(month FROM e.exposed_ts) - 2
                    THEN 'new' ELSE 'returning' END AS cohort,
               e.variant, count(*), avg(o.amount)
        FROM support.checkout_exposures e
        JOIN support.users u USING (user_id)
        JOIN support.checkout_orders o USING (user_id)
        GROUP BY ALL""")
    by = {(c, v): (n, mean) for c, v, n, mean in rows}
    for cohort in ("new", "returning"):
        assert by[(cohort, "treatment")][1] > by[(cohort, "control")][1]
    overall = {v: sum(by[(c, v)][0] * by[(c, v)][1] for c in ("new", "returning"))
               / sum(by[(c, v)][0] for c in ("new", "returning"))
               for v in ("control", "treatment")}
    assert overall["treatment"] < overall["control"]
    share = {v: by[("new", v)][0] / (by[("new", v)][0] + by[("returning", v)][0])
             for v in ("control", "treatment")}
    assert share["treatment"] > 2 * share["control"]


def test_backlog_snapshots_are_daily_with_gaps(warehouse: Warehouse) -> None:
    """One row per queue and day at 00:00, one queue-day in eleven missing, never negative."""
    ((rows, slots, off_midnight, negative),) = warehouse.rows(
        "SELECT count(*), count(DISTINCT queue_id) * count(DISTINCT snapshot_ts), "
        "count(*) FILTER (WHERE snapshot_ts <> date_trunc('day', snapshot_ts)), "
        "count(*) FILTER (WHERE open_tickets < 0) FROM support.backlog_snapshots")
    assert off_midnight == 0 and negative == 0
    assert 0.05 < 1 - rows / slots < 0.15  # the missed snapshots
