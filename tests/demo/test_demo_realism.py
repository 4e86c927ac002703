"""The warehouse behaves like real product data: persistent users, seasonality, heavy tails,
and outcomes that hang together (hallucinations lead to retries, escalations and thumbs-down).
"""

from __future__ import annotations

from demo_warehouse import Warehouse

PRE_POST = """
    WITH exposure AS (
      SELECT user_id, min(assigned_ts) AS first_ts FROM support.assignments
      WHERE experiment_id = 'summarizer_v2' GROUP BY user_id),
    per_user AS (
      SELECT e.user_id,
             count(t.{value}) FILTER (WHERE t.ts >= '2026-09-17' AND t.ts < '2026-10-01') AS pre_n,
             count(t.{value}) FILTER (WHERE t.ts >= e.first_ts AND t.ts < '2026-10-15') AS post_n,
             coalesce(sum(t.{value}) FILTER (WHERE t.ts >= '2026-09-17' AND t.ts < '2026-10-01'), 0)
               AS pre_sum,
             coalesce(sum(t.{value}) FILTER (WHERE t.ts >= e.first_ts AND t.ts < '2026-10-15'), 0)
               AS post_sum
      FROM exposure e LEFT JOIN support.{table} t USING (user_id) GROUP BY e.user_id)
    SELECT corr(pre_n, post_n), corr(pre_sum, post_sum), count(*) FROM per_user"""


def test_pre_period_behaviour_predicts_the_experiment_period(warehouse: Warehouse) -> None:
    # What CUPED exploits: per-user counts and sums before the window correlate with those
    # after first exposure (a 14-day pre-period, as the example specs declare).
    csat_counts, csat_sums, users = warehouse.rows(
        PRE_POST.format(table="feedback", value="csat_score")
    )[0]
    assert users > 1000
    assert csat_counts > 0.3 and csat_sums > 0.3
    message_counts, cost_sums, _ = warehouse.rows(
        PRE_POST.format(table="messages", value="cost_usd")
    )[0]
    assert message_counts > 0.5 and cost_sums > 0.5
    # Satisfaction itself persists: users' mean CSAT before and during correlate.
    mean_csat = warehouse.value("""
        WITH s AS (
          SELECT user_id, avg(csat_score) FILTER (WHERE ts < '2026-10-01') AS pre,
                 avg(csat_score) FILTER (WHERE ts >= '2026-10-01' AND ts < '2026-10-15') AS post
          FROM support.feedback GROUP BY user_id)
        SELECT corr(pre, post) FROM s""")
    assert mean_csat > 0.15
    with_history = warehouse.value("""
        SELECT avg((EXISTS (SELECT 1 FROM support.conversations c
                            WHERE c.user_id = a.user_id AND c.started_ts < '2026-10-01'))::INT)
        FROM (SELECT DISTINCT user_id FROM support.assignments
              WHERE experiment_id = 'summarizer_v2') a""")
    assert with_history > 0.7


def test_activity_has_daily_and_weekly_seasonality(warehouse: Warehouse) -> None:
    per_day = dict(
        warehouse.rows("""
        SELECT isodow(started_ts) >= 6, count(*) / count(DISTINCT started_ts::DATE)
        FROM support.conversations WHERE started_ts < '2026-11-15' GROUP BY 1""")
    )
    assert per_day[False] > 1.2 * per_day[True]
    by_hour = [
        n
        for _, n in warehouse.rows("""
        SELECT hour(started_ts), count(*) FROM support.conversations
        WHERE started_ts < '2026-11-15' GROUP BY 1""")
    ]
    assert len(by_hour) == 24 and max(by_hour) > 1.6 * min(by_hour)


def test_latency_is_heavy_tailed(warehouse: Warehouse) -> None:
    p50, p95, p99, p999 = warehouse.value("""
        SELECT quantile_cont(latency_ms, [0.5, 0.95, 0.99, 0.999]) FROM support.messages
        WHERE role = 'assistant' AND ts < '2026-11-15'""")
    assert 800 < p50 < 2500 and 3000 < p95 < 6000
    assert p99 > 4 * p50 and p999 > 1.8 * p99


def test_hallucinations_drive_retries_corrections_escalations_and_thumbs_down(
    warehouse: Warehouse,
) -> None:
    after = {
        prev: (retry, correction)
        for prev, retry, correction in warehouse.rows("""
            WITH m AS (
              SELECT role, turn, is_retry, is_correction,
                     lag(hallucinated)
                       OVER (PARTITION BY conversation_id ORDER BY message_id) AS prev
              FROM support.messages)
            SELECT prev, avg(is_retry::INT), avg(is_correction::INT)
            FROM m WHERE role = 'user' AND turn > 1 GROUP BY prev""")
    }
    assert after[True][0] > 4 * after[False][0] and after[True][1] > 4 * after[False][1]
    outcome = {
        bad: (escalated, resolved)
        for bad, escalated, resolved in warehouse.rows("""
            WITH c AS (
              SELECT conversation_id, bool_or(hallucinated) AS bad FROM support.messages
              WHERE role = 'assistant' GROUP BY ALL)
            SELECT bad, avg(escalated::INT), avg(resolved::INT)
            FROM c JOIN support.conversations USING (conversation_id) GROUP BY bad""")
    }
    assert outcome[True][0] > 2.5 * outcome[False][0]
    assert outcome[True][1] < outcome[False][1] - 0.15
    thumbs_up = dict(
        warehouse.rows("""
        WITH c AS (
          SELECT conversation_id, bool_or(hallucinated) AS bad FROM support.messages
          WHERE role = 'assistant' GROUP BY ALL)
        SELECT bad, avg((thumbs = 'up')::INT) FROM support.feedback JOIN c USING (conversation_id)
        WHERE thumbs IS NOT NULL AND ts < '2026-11-15' GROUP BY bad""")
    )
    assert thumbs_up[True] < thumbs_up[False] - 0.1


def test_feedback_is_a_minority_and_its_scores_agree(warehouse: Warehouse) -> None:
    share = warehouse.value("""
        SELECT avg((conversation_id IN (SELECT conversation_id FROM support.feedback))::INT)
        FROM support.conversations WHERE started_ts < '2026-11-15'""")
    assert 0.15 < share < 0.5
    csat = dict(
        warehouse.rows("""
        SELECT thumbs, avg(csat_score) FROM support.feedback
        WHERE thumbs IS NOT NULL AND csat_score IS NOT NULL GROUP BY thumbs""")
    )
    assert csat["up"] > csat["down"] + 1.0
    effort = dict(
        warehouse.rows("""
        SELECT thumbs, avg(effort_score) FROM support.feedback
        WHERE thumbs IS NOT NULL AND effort_score IS NOT NULL GROUP BY thumbs""")
    )
    assert effort["down"] > effort["up"] + 0.5
    usual = warehouse.value("""
        SELECT avg((thumbs = 'up')::INT) FROM support.feedback
        WHERE thumbs IS NOT NULL AND ts < '2026-11-15'""")
    assert 0.74 < usual < 0.82


def test_locales_and_channels_have_their_own_base_rates(warehouse: Warehouse) -> None:
    hallucination = dict(
        warehouse.rows("""
        SELECT c.locale, avg(hallucinated::INT) FROM support.messages m
        JOIN support.conversations c USING (conversation_id) WHERE role = 'assistant' GROUP BY 1""")
    )
    assert hallucination["ja-JP"] > 1.15 * hallucination["en-US"]
    thumbs = dict(
        warehouse.rows("""
        SELECT c.locale, avg((thumbs = 'up')::INT) FROM support.feedback f
        JOIN support.conversations c USING (conversation_id)
        WHERE thumbs IS NOT NULL AND f.ts < '2026-11-15' GROUP BY 1""")
    )
    assert thumbs["es-ES"] > thumbs["ja-JP"] + 0.04
    channels = {
        channel: (escalated, turns, feedback)
        for channel, escalated, turns, feedback in warehouse.rows("""
            SELECT channel, avg(escalated::INT), avg(turns),
                   avg((conversation_id IN (SELECT conversation_id FROM support.feedback))::INT)
            FROM support.conversations WHERE started_ts < '2026-11-15' GROUP BY 1""")
    }
    assert channels["voice"][0] > 2 * channels["chat"][0]
    assert channels["voice"][1] > channels["chat"][1] > channels["email"][1] > 1.2
    assert channels["chat"][2] > channels["email"][2]
    mix = dict(
        warehouse.rows("""
        SELECT channel, count(*) / sum(count(*)) OVER () FROM support.conversations
        WHERE started_ts < '2026-11-15' GROUP BY 1""")
    )
    assert mix["chat"] > 0.5 and 0.1 < mix["email"] < 0.35 and 0.05 < mix["voice"] < 0.2
