# Quality: is the assistant helping customers?

metric csat "CSAT" = count(feedback where thumbs = 'up') / count(feedback where thumbs is not null) {
  description "Share of rated conversations that got a thumbs-up."
  direction up; format percent; owner "support-analytics"; tags quality, survey
}

metric csat_score "CSAT survey score" = avg(feedback.csat_score) {
  description "Mean answer to 'How satisfied were you?' on a 1–5 scale."
  direction up; format number; unit point; owner "support-analytics"; tags quality, survey
}

metric ces "Customer effort score" = avg(feedback.effort_score) {
  description "Mean answer to 'How easy was it to get help?' on a 1–7 scale; lower is better."
  direction down; format number; unit point; owner "support-analytics"; tags quality, survey
}

metric escalation_rate "Escalation rate" = count(conversations where escalated) / count(conversations) {
  description "Share of conversations handed over to a human agent."
  direction down; format percent; owner "support-ops"; tags resolution
}

metric task_completion "Task completion" =
  count(conversations where resolved and (escalation_turn is null or escalation_turn > 2))
  / count(conversations) {
  description "Share of conversations resolved without an escalation in the first two turns."
  direction up; format percent; owner "support-ops"; tags resolution
}

metric deflection_rate "Deflection rate" = 1 - escalation_rate {
  description "Share of conversations the assistant handled without a human."
  direction up; format percent; owner "support-ops"; tags resolution
}

metric hallucination_rate "Hallucination rate" =
  count(messages where role = 'assistant' and hallucinated)
  / count(messages where role = 'assistant') {
  description "Share of answers the grader flagged as unsupported by the knowledge base."
  direction down; format percent; owner "assistant-quality"; tags model, safety
}

metric retry_rate "Retry rate" =
  count(messages where role = 'user' and is_retry) / count(messages where role = 'user') {
  description "Share of customer messages that re-ask the previous question."
  direction down; format percent; owner "assistant-quality"; tags model
}

metric correction_rate "Correction rate" =
  count(messages where role = 'user' and is_correction) / count(messages where role = 'user') {
  description "Share of customer messages that correct the assistant."
  direction down; format percent; owner "assistant-quality"; tags model
}

metric trust_score "Trust score" = weighted(csat: 0.5, task_completion: 0.3, 1 - retry_rate: 0.2) {
  description "Composite index of satisfaction, completion and (absence of) retries."
  direction up; format percent; owner "support-analytics"; tags quality, composite
}

metric thumbs_up_within_a_day "Thumbs-up within a day" =
  conversion(conversations -> feedback where thumbs = 'up', within 1 day, by user_id) {
  description "Share of customers who give a thumbs-up within a day of starting a conversation."
  direction up; format percent; owner "support-analytics"; tags quality
}

metric csat_7d "CSAT, trailing 7 days" = rolling(csat, 7 days) {
  direction up; format percent; owner "support-analytics"; tags quality
}

metric enterprise_csat "CSAT, enterprise plan" =
  count(feedback where thumbs = 'up' and users.plan = 'enterprise')
  / count(feedback where thumbs is not null and users.plan = 'enterprise') {
  description "CSAT of users on the enterprise plan today (their plan joined from users)."
  direction up; format percent; owner "support-analytics"; tags quality, survey, plan
}
