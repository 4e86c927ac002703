experiment summarizer_v2 "Summariser swap: model B writes the conversation summaries" {
  description "Does the new summarisation model make answers more satisfying, without slowing the assistant down or making it hallucinate more?"
  owner "assistant-quality"
  unit user_id
  assignment assignments variant variant where experiment_id = 'summarizer_v2'
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14

  primary csat
  secondary task_completion, cost_per_query, csat_score
  guardrail latency_p95 max_increase 10%
  guardrail hallucination_rate max_increase 0.5pp

  alpha 0.05; power 0.8; mde 2% relative; correction holm
  cuped 14 days
  sequential
  segments platform
  traffic 900 per day
}
