# Winsorisation caps each unit's count or sum behind a metric of the experiment (MS514): a
# conversion, a percentile or a composite has none, and a metric the experiment does not
# analyse would be capped nowhere.
source events = table app.events { entity user_id; time ts; column amount: number, variant: string }
source orders = table app.orders { entity user_id; time ts; column amount: number }

metric revenue = sum(orders.amount)
metric per_event = sum(orders.amount) / count(events)
metric converts = conversion(events -> orders, within 1 day)
metric p90 = p90(orders.amount)
metric blend = weighted(revenue: 0.5, per_event: 0.5)
metric unused = count(orders)

experiment capped {
  unit user_id
  assignment events variant variant
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary revenue; secondary per_event, converts, p90, blend
  winsorize revenue, per_event, converts at 99%
  winsorize p90, blend, unused at 99%
}

# expect: MS514 @ 20:33
# expect: MS514 @ 21:13
# expect: MS514 @ 21:18
# expect: MS514 @ 21:25
