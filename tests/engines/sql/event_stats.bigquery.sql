-- bigquery: per-variant event statistics; APPROX_QUANTILES (BigQuery has no exact aggregate percentile)
SELECT
    a.variant,
    COUNT(*) AS n_events,
    COUNT(e.latency_ms) AS n_latency,
    COUNT(DISTINCT e.user_id) AS n_users,
    COUNT(DISTINCT e.channel) AS n_channels,
    SUM(e.latency_ms) AS sum_latency,
    SUM(e.latency_ms * e.latency_ms) AS sum_sq_latency,
    COUNTIF(e.escalated) AS n_escalated,
    SUM(CASE WHEN e.channel = 'téléphone' THEN e.tokens END) AS phone_tokens,
    COUNT(DISTINCT TIMESTAMP_TRUNC(e.event_ts, HOUR)) AS n_hours,
    MIN(TIMESTAMP_TRUNC(e.event_ts, HOUR)) AS first_hour,
    APPROX_QUANTILES(e.latency_ms, 1000)[OFFSET(950)] AS p95_latency
FROM support.events AS e
JOIN support.assignments AS a ON a.user_id = e.user_id
GROUP BY a.variant
ORDER BY a.variant
