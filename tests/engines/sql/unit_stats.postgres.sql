-- postgres: per-unit sums onto assignments, then per-variant sufficient statistics
WITH per_user AS (
    SELECT user_id, COUNT(*) AS n_events, SUM(latency_ms) AS latency_ms
    FROM support.events
    GROUP BY user_id
)
SELECT
    a.variant,
    COUNT(*) AS n_units,
    SUM(COALESCE(p.n_events, 0)) AS sum_events,
    SUM(COALESCE(p.n_events, 0) * COALESCE(p.n_events, 0)) AS sum_sq_events,
    SUM(COALESCE(p.latency_ms, 0)) AS sum_latency,
    SUM(COALESCE(p.latency_ms, 0) * COALESCE(p.latency_ms, 0)) AS sum_sq_latency,
    SUM(COALESCE(p.n_events, 0) * COALESCE(p.latency_ms, 0)) AS sum_events_x_latency,
    COUNT(p.user_id) AS units_with_events
FROM support.assignments AS a
LEFT JOIN per_user AS p ON p.user_id = a.user_id
GROUP BY a.variant
ORDER BY a.variant
