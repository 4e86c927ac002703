# Metrics of the MetricFlow comparison's third question (benchmarks/metricflow_compare.py, Q3):
# distinct counts, distinct counts under filters and percentiles over one fact table — the
# forms whose SQL spelling decides the run time (docs/benchmarks.md, "Filtered aggregate
# spellings"). The same metrics are defined for MetricFlow in
# benchmarks/metricflow_project/models/ (`message_users` …).

metric bench_message_users = count_distinct(messages.user_id) { direction up }
metric bench_asking_users = count_distinct(messages.user_id where role = 'user') { direction up }
metric bench_answered_conversations =
  count_distinct(messages.conversation_id where role = 'assistant') { direction up }
metric bench_retrying_users =
  count_distinct(messages.user_id where role = 'user' and is_retry) { direction down }
metric bench_hallucinating_conversations =
  count_distinct(messages.conversation_id where role = 'assistant' and hallucinated) { direction down }
