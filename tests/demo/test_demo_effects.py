"""Every planted experiment effect is visible in the raw tables at scale 0.25.

Bounds are the planted effect plus or minus about 2.5 seed-to-seed standard deviations at
this scale (measured over 20 seeds; see docs/demo-data.md): they hold for the default seed and
for nearly every other, and still fail if an effect is missing, reversed or misplaced.
"""

from __future__ import annotations

from demo_warehouse import WINDOWS, Warehouse
from scipy.stats import chisquare

THUMBS = ("feedback", "avg((thumbs = 'up')::INT)", "thumbs IS NOT NULL")
CSAT = ("feedback", "avg(csat_score)", "csat_score IS NOT NULL")
P95 = ("messages", "quantile_cont(latency_ms, 0.95)", "role = 'assistant'")
HALLUCINATION = ("messages", "avg(hallucinated::INT)", "role = 'assistant'")
COST = ("messages", "avg(cost_usd)", "role = 'assistant'")


def arm_sizes(warehouse: Warehouse, experiment: str) -> dict[str, int]:
    exposures = warehouse.exposures_sql(experiment)
    sql = f"WITH e AS ({exposures}) SELECT variant, count(*) FROM e GROUP BY 1"
    return dict(warehouse.rows(sql))


def test_summarizer_raises_thumbs_up_and_csat(warehouse: Warehouse) -> None:
    # planted 0.05 plus a novelty part (fading over ~3 days since exposure) on top
    assert 0.03 < warehouse.difference("summarizer_v2", *THUMBS) < 0.17
    assert 0.05 < warehouse.difference("summarizer_v2", *CSAT) < 0.40


def test_summarizer_breaks_the_latency_guardrail(warehouse: Warehouse) -> None:
    assert 1.10 < warehouse.ratio("summarizer_v2", *P95) < 1.42
    mean_ratio = warehouse.ratio(
        "summarizer_v2", "messages", "avg(latency_ms)", "role = 'assistant'"
    )
    assert 1.12 < mean_ratio < 1.36


def test_summarizer_leaves_hallucinations_alone_and_costs_a_little_more(
    warehouse: Warehouse,
) -> None:
    assert 0.85 < warehouse.ratio("summarizer_v2", *HALLUCINATION) < 1.18
    assert 0.97 < warehouse.ratio("summarizer_v2", *COST) < 1.07


def test_prompt_template_cuts_hallucinations_only(warehouse: Warehouse) -> None:
    assert 0.72 < warehouse.ratio("prompt_template_v3", *HALLUCINATION) < 0.97
    assert 0.90 < warehouse.ratio("prompt_template_v3", *P95) < 1.10
    assert 0.96 < warehouse.ratio("prompt_template_v3", *COST) < 1.04


def test_aa_arms_look_alike(warehouse: Warehouse) -> None:
    assert abs(warehouse.difference("greeting_aa", *THUMBS)) < 0.07
    assert abs(warehouse.difference("greeting_aa", *CSAT)) < 0.2
    assert 0.88 < warehouse.ratio("greeting_aa", *P95) < 1.12
    assert 0.85 < warehouse.ratio("greeting_aa", *HALLUCINATION) < 1.18
    assert 0.95 < warehouse.ratio("greeting_aa", *COST) < 1.06
    sizes = arm_sizes(warehouse, "greeting_aa")
    assert chisquare([sizes["control"], sizes["treatment"]]).pvalue > 0.001


def test_only_tone_tuning_has_a_sample_ratio_mismatch(warehouse: Warehouse) -> None:
    for experiment in WINDOWS:
        sizes = arm_sizes(warehouse, experiment)
        p_value = chisquare([sizes["control"], sizes["treatment"]]).pvalue
        if experiment == "tone_tuning":
            assert p_value < 0.001
            assert sizes["treatment"] / (sizes["control"] + sizes["treatment"]) < 0.48
        else:
            assert p_value > 0.001, experiment


def test_tone_tuning_lost_rows_not_events(warehouse: Warehouse) -> None:
    # Users active in the window but never logged: their conversations exist, their exposures not.
    unlogged = warehouse.value(
        """
        WITH active AS (SELECT DISTINCT user_id FROM support.conversations
                        WHERE started_ts >= '2026-10-15' AND started_ts < '2026-10-29'),
        logged AS (SELECT DISTINCT user_id FROM support.assignments WHERE experiment_id = ?)
        SELECT count(*) FROM active ANTI JOIN logged USING (user_id)""",
        "tone_tuning",
    )
    active = warehouse.value("""SELECT count(DISTINCT user_id) FROM support.conversations
                                WHERE started_ts >= '2026-10-15' AND started_ts < '2026-10-29'""")
    assert 0.08 < unlogged / active < 0.18
    fully_logged = warehouse.value(
        """
        WITH active AS (SELECT DISTINCT user_id FROM support.conversations
                        WHERE started_ts >= '2026-10-15' AND started_ts < '2026-10-29'),
        logged AS (SELECT DISTINCT user_id FROM support.assignments WHERE experiment_id = ?)
        SELECT count(*) FROM active ANTI JOIN logged USING (user_id)""",
        "prompt_template_v3",
    )
    assert fully_logged == 0


def test_about_half_a_percent_of_exposed_users_appear_in_both_arms(warehouse: Warehouse) -> None:
    shares = dict(
        warehouse.rows("""
        SELECT experiment_id, avg((n > 1)::INT) FROM (
          SELECT experiment_id, user_id, count(DISTINCT variant) AS n
          FROM support.assignments
          WHERE variant IN ('control', 'treatment')  -- not the planted undeclared variant
          GROUP BY ALL)
        GROUP BY experiment_id""")
    )
    assert set(shares) == set(WINDOWS)
    for experiment, share in shares.items():
        assert 0.001 < share < 0.012, experiment
    assert 0.003 < sum(shares.values()) / len(shares) < 0.008
