# The SQL-efficiency benchmark's experiment: 15 metrics over three sources (messages,
# conversations, feedback) — ratios, averages, counts, sums and one percentile — with CUPED,
# analysed on the `summarizer_v2` assignments of the demo warehouse.

metric bench_hallucination_rate = count(messages where role = 'assistant' and hallucinated)
  / count(messages where role = 'assistant') { direction down }
metric bench_retry_rate = count(messages where role = 'user' and is_retry)
  / count(messages where role = 'user') { direction down }
metric bench_cost_per_query = sum(messages.cost_usd) / count(messages where role = 'user') { direction down }
metric bench_tokens_per_answer = avg(messages.completion_tokens where role = 'assistant') { direction down }
metric bench_messages = count(messages) { direction up }
metric bench_total_cost = sum(messages.cost_usd) { direction down }
metric bench_latency_p95 = p95(messages.latency_ms where role = 'assistant') { direction down }

metric bench_escalation_rate = count(conversations where escalated) / count(conversations) { direction down }
metric bench_task_completion = count(conversations where resolved and (escalation_turn is null or escalation_turn > 2))
  / count(conversations) { direction up }
metric bench_conversations = count(conversations) { direction up }
metric bench_turns = avg(conversations.turns) { direction down }

metric bench_csat = count(feedback where thumbs = 'up') / count(feedback where thumbs is not null) { direction up }
metric bench_csat_score = avg(feedback.csat_score) { direction up }
metric bench_ces = avg(feedback.effort_score) { direction down }
metric bench_feedback = count(feedback) { direction up }

experiment bench_efficiency "SQL efficiency benchmark (summarizer_v2 assignments)" {
  unit user_id
  assignment assignments variant variant where experiment_id = 'summarizer_v2'
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary bench_csat
  secondary bench_hallucination_rate, bench_retry_rate, bench_cost_per_query,
    bench_tokens_per_answer, bench_messages, bench_total_cost, bench_escalation_rate,
    bench_task_completion, bench_conversations, bench_turns, bench_csat_score, bench_ces,
    bench_feedback
  guardrail bench_latency_p95 max_increase 10%
  alpha 0.05; correction holm
  cuped 14 days
}
