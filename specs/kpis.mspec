# The support-cost programme: what drives the cost of a resolved conversation, down to the
# model metrics the assistant team can move.

kpi support_cost_reduction "Support cost reduction" {
  description "Cost per resolved conversation, decomposed into volume, price and completion."
  owner "support-finance"
  north_star cost_per_resolution
  cost_per_resolution <- ratio(cost_per_conversation, task_completion)
  cost_per_conversation <- product(queries_per_conversation, cost_per_query)
  cost_per_query <- sum(prompt_cost_per_query, completion_cost_per_query)
  completion_cost_per_query <- drivers(tokens_per_answer)
  queries_per_conversation <- drivers(retry_rate, correction_rate)
  task_completion <- drivers(hallucination_rate, escalation_rate, csat)
  csat <- drivers(latency_p95, hallucination_rate)
}

# Always-on guardrails: absolute limits the monitoring job checks.
guardrail latency_budget "p95 latency stays under 6 s" = latency_p95 <= 6000 every 1 hour
guardrail hallucination_ceiling "At most 12% of answers hallucinated" = hallucination_rate <= 12% every 1 day
