# dialect: bigquery
# A percentile is only approximate on BigQuery (checked with `--dialect bigquery`).
source messages = table app.messages { entity user_id; time ts; column latency_ms: number }

metric latency_p95 = p95(messages.latency_ms) { direction down }
metric latency_median = quantile(messages.latency_ms, 0.5)
metric messages_n = count(messages)

# Expected diagnostics (code @ line:column):
# expect: MS701 @ 5:22 warning
# expect: MS701 @ 6:25 warning
