-- The day-grain time spine MetricFlow requires.
select cast(range as date) as date_day
from range(timestamp '2026-01-01', timestamp '2028-01-01', interval 1 day)
