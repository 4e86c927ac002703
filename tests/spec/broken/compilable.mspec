# What the planner and the emitter would refuse after `check` passed is judged by `check`:
# time columns (MS605, MS516), windows that fit the daily grain (MS410), and names that would
# meet the names metricspec builds for the parts of a query (MS417).
source events = table app.events { entity user_id; time ts; dimension country, value; column amount: number }
source Events = table app.events_copy { entity user_id; time ts }
source signups = table app.signups { entity user_id; time ts }
source snapshot = table app.snapshot { entity user_id; column amount: number }
source assign = table app.assign { entity user_id; column variant: string }
source raw__events = table app.raw { entity user_id; time ts }

metric revenue = sum(events.amount)
metric Revenue = count(events)
metric stock = sum(snapshot.amount) + count(events)
metric period = count(events)
metric rev__x = count(events)
metric sample_n = count(events)
metric roll_hours = rolling(revenue, 36 hours)
metric target = 5%
metric roll_const = rolling(target, 7 days)
metric signups = conversion(events -> signups, within 1 day)
metric activity = count(signups)

monitor by_value { metric revenue; every 1 hour; alert when above 100; dimensions value }
monitor watches_n { metric sample_n; every 1 hour; alert when above 100 }

experiment clash {
  unit user_id
  assignment assign variant variant
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary signups; secondary activity
}

# expect: MS417 @ 5:8
# expect: MS417 @ 9:8
# expect: MS417 @ 12:8
# expect: MS605 @ 13:20
# expect: MS417 @ 14:8
# expect: MS417 @ 15:8
# expect: MS410 @ 17:38
# expect: MS410 @ 19:21
# expect: MS417 @ 23:83
# expect: MS417 @ 24:28
# expect: MS516 @ 28:14
# expect: MS417 @ 31:11
