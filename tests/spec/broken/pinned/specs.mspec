# A running experiment whose pinned metric changed without a new version (metricspec.lock
# beside this file pinned `conversion` as `count(events where kind = 'paid')`).
source events = table app.events { entity user_id; time ts; column kind: string, amount: number }
source assignments = table app.assignments { entity user_id; time assigned_ts; column variant: string }

metric conversion = count(events where kind = 'paid' and amount > 0) / count(events)
metric revenue = sum(events.amount) { version 0 }

experiment checkout {
  unit user_id
  assignment assignments variant variant
  variants control 50% control, treatment 50%
  window 2020-01-01 .. 2099-12-31
  primary conversion
  secondary revenue
}

# expect: MS518 @ 7:47
# expect: MS517 @ 9:12
