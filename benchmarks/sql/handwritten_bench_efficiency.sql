-- Hand-written DuckDB query: the same sufficient statistics as the generated query of
-- `bench_efficiency` (benchmarks/efficiency_specs/experiment.mspec), in the same long format.
-- Written the way a DuckDB user would: one GROUP BY per table, FILTER clauses, and the
-- percentile ranks taken only over the latency values (a narrow list per unit, unnested).
--
-- Conventions (docs/sufficient-statistics.md): first exposure per user in the window, users
-- seen in both arms dropped; events from the first exposure to the window end; CUPED
-- covariates over the 14 days before the window; missing units count 0.
WITH assigned AS (
  SELECT user_id AS unit, min(variant) AS variant, min(assigned_ts) AS exposed_at,
         count(DISTINCT variant) AS arms
  FROM support.assignments
  WHERE experiment_id = 'summarizer_v2'
    AND assigned_ts >= TIMESTAMP '2026-10-01' AND assigned_ts < TIMESTAMP '2026-10-15'
    AND variant IN ('control', 'treatment') AND user_id IS NOT NULL
  GROUP BY user_id
),
exposures AS (SELECT unit, variant, exposed_at FROM assigned WHERE arms = 1),

msg AS (
  SELECT e.unit,
    count(*) FILTER (WHERE post AND role = 'assistant' AND hallucinated) AS hall_x,
    count(*) FILTER (WHERE pre AND role = 'assistant' AND hallucinated) AS hall_c,
    count(*) FILTER (WHERE post AND role = 'assistant') AS answers_x,
    count(*) FILTER (WHERE pre AND role = 'assistant') AS answers_c,
    count(*) FILTER (WHERE post AND role = 'user' AND is_retry) AS retry_x,
    count(*) FILTER (WHERE pre AND role = 'user' AND is_retry) AS retry_c,
    count(*) FILTER (WHERE post AND role = 'user') AS queries_x,
    count(*) FILTER (WHERE pre AND role = 'user') AS queries_c,
    sum(cost_usd) FILTER (WHERE post) AS cost_x,
    sum(cost_usd) FILTER (WHERE pre) AS cost_c,
    sum(completion_tokens) FILTER (WHERE post AND role = 'assistant') AS tokens_x,
    sum(completion_tokens) FILTER (WHERE pre AND role = 'assistant') AS tokens_c,
    count(completion_tokens) FILTER (WHERE post AND role = 'assistant') AS tokens_y,
    count(completion_tokens) FILTER (WHERE pre AND role = 'assistant') AS tokens_d,
    count(*) FILTER (WHERE post) AS messages_x,
    count(*) FILTER (WHERE pre) AS messages_c,
    list(latency_ms) FILTER (WHERE post AND role = 'assistant' AND latency_ms IS NOT NULL)
      AS latencies
  FROM (
    SELECT s.*, s.ts >= e.exposed_at AS post, s.ts < TIMESTAMP '2026-10-01' AS pre, e.unit
    FROM support.messages AS s JOIN exposures AS e ON s.user_id = e.unit
    WHERE s.ts >= TIMESTAMP '2026-09-17' AND s.ts < TIMESTAMP '2026-10-15'
  ) AS e
  GROUP BY e.unit
),

conv AS (
  SELECT e.unit,
    count(*) FILTER (WHERE post AND escalated) AS esc_x,
    count(*) FILTER (WHERE pre AND escalated) AS esc_c,
    count(*) FILTER (WHERE post AND resolved AND (escalation_turn IS NULL OR escalation_turn > 2))
      AS done_x,
    count(*) FILTER (WHERE pre AND resolved AND (escalation_turn IS NULL OR escalation_turn > 2))
      AS done_c,
    count(*) FILTER (WHERE post) AS conv_x,
    count(*) FILTER (WHERE pre) AS conv_c,
    sum(turns) FILTER (WHERE post) AS turns_x,
    sum(turns) FILTER (WHERE pre) AS turns_c,
    count(turns) FILTER (WHERE post) AS turns_y,
    count(turns) FILTER (WHERE pre) AS turns_d
  FROM (
    SELECT s.*, s.started_ts >= e.exposed_at AS post,
           s.started_ts < TIMESTAMP '2026-10-01' AS pre, e.unit
    FROM support.conversations AS s JOIN exposures AS e ON s.user_id = e.unit
    WHERE s.started_ts >= TIMESTAMP '2026-09-17' AND s.started_ts < TIMESTAMP '2026-10-15'
  ) AS e
  GROUP BY e.unit
),

fb AS (
  SELECT e.unit,
    count(*) FILTER (WHERE post AND thumbs = 'up') AS up_x,
    count(*) FILTER (WHERE pre AND thumbs = 'up') AS up_c,
    count(*) FILTER (WHERE post AND thumbs IS NOT NULL) AS rated_x,
    count(*) FILTER (WHERE pre AND thumbs IS NOT NULL) AS rated_c,
    sum(csat_score) FILTER (WHERE post) AS score_x,
    sum(csat_score) FILTER (WHERE pre) AS score_c,
    count(csat_score) FILTER (WHERE post) AS score_y,
    count(csat_score) FILTER (WHERE pre) AS score_d,
    sum(effort_score) FILTER (WHERE post) AS effort_x,
    sum(effort_score) FILTER (WHERE pre) AS effort_c,
    count(effort_score) FILTER (WHERE post) AS effort_y,
    count(effort_score) FILTER (WHERE pre) AS effort_d,
    count(*) FILTER (WHERE post) AS fb_x,
    count(*) FILTER (WHERE pre) AS fb_c
  FROM (
    SELECT s.*, s.ts >= e.exposed_at AS post, s.ts < TIMESTAMP '2026-10-01' AS pre, e.unit
    FROM support.feedback AS s JOIN exposures AS e ON s.user_id = e.unit
    WHERE s.ts >= TIMESTAMP '2026-09-17' AND s.ts < TIMESTAMP '2026-10-15'
  ) AS e
  GROUP BY e.unit
),

-- p95 latency: exact rank-based quantile per variant (ties ordered by unit), its confidence
-- bounds at levels 0.95 -/+ z * sqrt(0.95 * 0.05 / n*), and each unit's events at or below
-- the quantile's rank.
latency AS (
  SELECT e.unit, e.variant, unnest(m.latencies) AS v
  FROM exposures AS e JOIN msg AS m USING (unit)
),
positions AS (
  SELECT variant, n, nstar,
    1 + (n - 1) * 0.95 AS pos,
    greatest(1, 1 + (n - 1) * (0.95 - 1.959963984540054 * sqrt(0.95 * 0.05 / nstar))) AS pos_lo,
    least(n, 1 + (n - 1) * (0.95 + 1.959963984540054 * sqrt(0.95 * 0.05 / nstar))) AS pos_hi
  FROM (
    SELECT variant, n, 100 * pow(2, floor(ln(greatest(n, 1) / 100.0) / ln(2) + 1e-9)) AS nstar
    FROM (SELECT variant, count(*) AS n FROM latency GROUP BY variant)
  )
),
ranked AS (
  SELECT l.unit, l.variant, l.v, p.pos, p.pos_lo, p.pos_hi, p.nstar,
         row_number() OVER (PARTITION BY l.variant ORDER BY l.v, l.unit) AS r
  FROM latency AS l JOIN positions AS p USING (variant)
),
quantiles AS (
  SELECT variant,
    sum(CASE WHEN r = floor(pos) THEN v * (1 - (pos - floor(pos)))
             WHEN r = floor(pos) + 1 THEN v * (pos - floor(pos)) END) AS q,
    sum(CASE WHEN r = floor(pos_lo) THEN v * (1 - (pos_lo - floor(pos_lo)))
             WHEN r = floor(pos_lo) + 1 THEN v * (pos_lo - floor(pos_lo)) END) AS q_lower,
    sum(CASE WHEN r = floor(pos_hi) THEN v * (1 - (pos_hi - floor(pos_hi)))
             WHEN r = floor(pos_hi) + 1 THEN v * (pos_hi - floor(pos_hi)) END) AS q_upper,
    max(nstar) AS q_n_star
  FROM ranked GROUP BY variant
),
below AS (
  SELECT unit, count(*) FILTER (WHERE r <= floor(pos)) AS below, count(*) AS events
  FROM ranked GROUP BY unit
),

-- One row per unit and metric: x (numerator or value), y (denominator), c and d (the same
-- over the pre-period); then the sums per variant and metric.
unit_metrics AS (
  SELECT e.variant, unnest([
    {metric: 'bench_hallucination_rate', x: coalesce(hall_x, 0), y: coalesce(answers_x, 0), c: coalesce(hall_c, 0), d: coalesce(answers_c, 0)},
    {metric: 'bench_retry_rate', x: coalesce(retry_x, 0), y: coalesce(queries_x, 0), c: coalesce(retry_c, 0), d: coalesce(queries_c, 0)},
    {metric: 'bench_cost_per_query', x: coalesce(cost_x, 0), y: coalesce(queries_x, 0), c: coalesce(cost_c, 0), d: coalesce(queries_c, 0)},
    {metric: 'bench_tokens_per_answer', x: coalesce(tokens_x, 0), y: coalesce(tokens_y, 0), c: coalesce(tokens_c, 0), d: coalesce(tokens_d, 0)},
    {metric: 'bench_messages', x: coalesce(messages_x, 0), y: NULL, c: coalesce(messages_c, 0), d: NULL},
    {metric: 'bench_total_cost', x: coalesce(cost_x, 0), y: NULL, c: coalesce(cost_c, 0), d: NULL},
    {metric: 'bench_escalation_rate', x: coalesce(esc_x, 0), y: coalesce(conv_x, 0), c: coalesce(esc_c, 0), d: coalesce(conv_c, 0)},
    {metric: 'bench_task_completion', x: coalesce(done_x, 0), y: coalesce(conv_x, 0), c: coalesce(done_c, 0), d: coalesce(conv_c, 0)},
    {metric: 'bench_conversations', x: coalesce(conv_x, 0), y: NULL, c: coalesce(conv_c, 0), d: NULL},
    {metric: 'bench_turns', x: coalesce(turns_x, 0), y: coalesce(turns_y, 0), c: coalesce(turns_c, 0), d: coalesce(turns_d, 0)},
    {metric: 'bench_csat', x: coalesce(up_x, 0), y: coalesce(rated_x, 0), c: coalesce(up_c, 0), d: coalesce(rated_c, 0)},
    {metric: 'bench_csat_score', x: coalesce(score_x, 0), y: coalesce(score_y, 0), c: coalesce(score_c, 0), d: coalesce(score_d, 0)},
    {metric: 'bench_ces', x: coalesce(effort_x, 0), y: coalesce(effort_y, 0), c: coalesce(effort_c, 0), d: coalesce(effort_d, 0)},
    {metric: 'bench_feedback', x: coalesce(fb_x, 0), y: NULL, c: coalesce(fb_c, 0), d: NULL}
  ], recursive := true)
  FROM exposures AS e
  LEFT JOIN msg USING (unit) LEFT JOIN conv USING (unit) LEFT JOIN fb USING (unit)
),
metric_rows AS (
  SELECT variant, metric, count(*) AS n,
    sum(x) AS sum_x, sum(x::DOUBLE * x) AS sum_x2,
    sum(y) AS sum_y, sum(y::DOUBLE * y) AS sum_y2, sum(x::DOUBLE * y) AS sum_xy,
    sum(c) AS sum_c, sum(c::DOUBLE * c) AS sum_c2, sum(x::DOUBLE * c) AS sum_xc,
    sum(d) AS sum_d, sum(d::DOUBLE * d) AS sum_d2, sum(c::DOUBLE * d) AS sum_cd,
    sum(x::DOUBLE * d) AS sum_xd, sum(y::DOUBLE * c) AS sum_yc, sum(y::DOUBLE * d) AS sum_yd
  FROM unit_metrics GROUP BY variant, metric
),
quantile_rows AS (
  SELECT e.variant, 'bench_latency_p95' AS metric,
    count(*) FILTER (WHERE coalesce(b.events, 0) > 0) AS n,
    sum(coalesce(b.below, 0)) AS sum_x, sum(coalesce(b.below, 0)::DOUBLE * coalesce(b.below, 0)) AS sum_x2,
    sum(coalesce(b.events, 0)) AS sum_y, sum(coalesce(b.events, 0)::DOUBLE * coalesce(b.events, 0)) AS sum_y2,
    sum(coalesce(b.below, 0)::DOUBLE * coalesce(b.events, 0)) AS sum_xy,
    any_value(q.q) AS q, any_value(q.q_lower) AS q_lower, any_value(q.q_upper) AS q_upper,
    any_value(q.q_n_star) AS q_n_star
  FROM exposures AS e LEFT JOIN below AS b USING (unit) LEFT JOIN quantiles AS q USING (variant)
  GROUP BY e.variant
)
SELECT variant, metric, n, sum_x, sum_x2, sum_y, sum_y2, sum_xy, sum_c, sum_c2, sum_xc,
       sum_d, sum_d2, sum_cd, sum_xd, sum_yc, sum_yd,
       NULL AS q, NULL AS q_lower, NULL AS q_upper, NULL AS q_n_star
FROM metric_rows
UNION ALL BY NAME
SELECT * FROM quantile_rows
UNION ALL BY NAME
SELECT variant, '__units__' AS metric, count(*) AS n FROM exposures GROUP BY variant
UNION ALL BY NAME
SELECT '__multiple__' AS variant, '__units__' AS metric, count(*) AS n FROM assigned WHERE arms > 1
ORDER BY variant, metric
