# Values the grammar accepts but the builder cannot use (MS107), and a setting given twice
# (MS108).
source events = table app.events { entity user_id; time ts; column amount: number }

metric total = sum(events.amount)
metric huge = total * 1e999
metric weekly = rolling(total, 2 fortnights)

experiment dated {
  unit user_id
  assignment events
  variants control 50% control, treatment 50%
  window 2026-13-01 .. 2026-12-14
  primary total
  sequential looks 1.5
  alpha 0.05
  alpha 0.01
}

monitor spikes {
  metric total
  every 90 minutes
  every 1 hour
  baseline trailing 1.5 hours
  alert when above 100 for 3 days
}

# Expected diagnostics (code @ line:column):
# expect: MS107 @ 6:23
# expect: MS107 @ 7:34
# expect: MS107 @ 13:10
# expect: MS107 @ 15:20
# expect: MS108 @ 17:3
# expect: MS606 @ 22:9
# expect: MS108 @ 23:3
# expect: MS107 @ 24:21
# expect: MS601 @ 24:21
# expect: MS107 @ 25:30
