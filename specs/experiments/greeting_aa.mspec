# An A/A test: both arms get the same greeting. It checks the assignment pipeline and the
# analysis: nothing should be significant and the split should match.
experiment greeting_aa "A/A: greeting pipeline check" {
  owner "experimentation-platform"
  unit user_id
  assignment assignments variant variant where experiment_id = 'greeting_aa'
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary csat
  secondary task_completion, cost_per_query
  guardrail latency_p95 max_increase 10%
  correction holm
}
