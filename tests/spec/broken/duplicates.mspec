# Duplicate names: a metric defined twice, a source twice, a monitor named like a metric,
# a column declared twice, a KPI parent with two edges.
source events = table app.events { entity user_id; time ts; column amount: number, amount: integer }
source events = table app.events_v2 { entity user_id; time ts }

metric total = sum(events.amount)
metric orders = count(events)
metric total = count(events)

kpi k {
  north_star total
  total <- drivers(orders)
  total <- drivers(orders)
}

monitor orders { metric orders every 1 hour alert when below 10 }

# Expected diagnostics (code @ line:column):
# expect: MS204 @ 3:84
# expect: MS204 @ 4:8
# expect: MS204 @ 8:8
# expect: MS204 @ 13:3
# expect: MS204 @ 16:9
