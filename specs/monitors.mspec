# Monitors: alert when a metric leaves its normal range.

monitor csat_drop "CSAT drop" {
  description "Pages the on-call when thumbs-up share falls 15% below the last hour."
  owner "support-analytics"
  metric csat
  every 5 minutes
  baseline trailing 1 hour
  alert when below baseline by 15%
  min_n 200
}

monitor hallucination_spike "Hallucination spike" {
  owner "assistant-quality"
  metric hallucination_rate
  every 1 hour
  baseline trailing 1 day
  alert when zscore above 4
  min_n 500
}

monitor slow_answers "Slow answers" {
  owner "assistant-platform"
  metric latency_p95
  every 1 hour
  alert when above 6000 for 2 windows
  min_n 200
}

monitor csat_by_country "CSAT by country" {
  description "Daily CSAT per country (joined from the user's profile) against its last week."
  owner "support-analytics"
  metric csat
  every 1 day
  baseline trailing 7 days
  alert when below baseline by 20%
  min_n 30
  dimensions country
}

monitor hallucinations_by_model_family "Hallucinations by model family" {
  description "Daily hallucination rate per model family (the model's dimension, joined by version) against its last week."
  owner "assistant-quality"
  metric hallucination_rate
  every 1 day
  baseline trailing 7 days
  alert when above baseline by 25%
  min_n 50
  dimensions models.family
}

monitor csat_week_over_week "CSAT, week over week" {
  description "Pages when an hour's thumbs-up share is 15% below the same hour last week."
  owner "support-analytics"
  metric csat
  every 1 hour
  baseline same period last week
  alert when below baseline by 15%
  min_n 30
}
