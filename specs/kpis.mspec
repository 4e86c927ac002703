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

# Engagement by calendar month: read it at month grain (`metricspec kpi monthly_engagement
# --period 2026-11 --vs 2026-10`, or `metricspec query ... --grain month`), where a month's
# conversations are its active users times how often each of them came.
metric conversations_per_active_user "Conversations per active user" =
  conversation_count / active_users {
  description "Conversations started per user who started one in the same period."
  direction up; format number; unit conversation/user; owner "support-ops"; tags engagement
}

metric calendar_month_active_users "Active users, calendar month" =
  rolling(active_users, 1 month) {
  description "Users with a conversation in the calendar month up to the end of each period (at day grain: since the same day a month before), each counted once."
  direction up; format integer; unit user; owner "support-ops"; tags engagement
}

metric model_cost_mtd "Model cost, month to date" = to_date(total_cost, month) {
  description "Model cost from the first of the month through each period."
  format currency; unit usd; owner "assistant-platform"
}

kpi monthly_engagement "Monthly engagement" {
  description "A month's conversations: its active users times conversations per active user."
  owner "support-ops"
  north_star conversation_count
  conversation_count <- product(active_users, conversations_per_active_user)
}
