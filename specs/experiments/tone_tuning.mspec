experiment tone_tuning "Warmer tone in answers" {
  owner "assistant-quality"
  unit user_id
  assignment assignments variant variant where experiment_id = 'tone_tuning'
  variants control 50% control, treatment 50%
  window 2026-10-15 .. 2026-10-28
  primary csat
  secondary ces
  guardrail latency_p95 max_increase 10%
  correction holm
}
