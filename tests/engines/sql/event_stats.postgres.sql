-- postgres: per-variant event statistics; exact percentile via percentile_cont WITHIN GROUP
SELECT
    a.variant,
    COUNT(*) AS n_events,
    COUNT(e.latency_ms) AS n_latency,
    COUNT(DISTINCT e.user_id) AS n_users,
    COUNT(DISTINCT e.channel) AS n_channels,
    SUM(e.latency_ms) AS sum_latency,
    SUM(e.latency_ms * e.latency_ms) AS sum_sq_latency,
    SUM(CASE WHEN e.escalated THEN 1 ELSE 0 END) AS n_escalated,
    SUM(CASE WHEN e.channel = 'téléphone' THEN e.tokens END) AS phone_tokens,
    COUNT(DISTINCT date_trunc('hour', e.event_ts)) AS n_hours,
    MIN(date_trunc('hour', e.event_ts)) AS first_hour,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY e.latency_ms) AS p95_latency
FROM support.events AS e
JOIN support.assignments AS a ON a.user_id = e.user_id
GROUP BY a.variant
ORDER BY a.variant
