# Offsets: of a constant or in an experiment (MS450), not whole days or windows (MS451), nested
# (MS452), an invalid length or period (MS453), watched by a monitor (MS454), a monitor's
# `baseline offset` under a z-score (MS454).
source events = table app.events { entity user_id; time ts; column amount: number }

metric revenue = sum(events.amount)
metric shifted_constant = offset(5, 1 week)
metric half_day = revenue - offset(revenue, 12 hours)
metric wow = growth(revenue, 1 week)
metric wow_of_wow = offset(wow, 1 week)
metric rolled_wow = rolling(revenue - offset(revenue, 1 day), 7 days)
metric fortnight = offset(revenue, 2 fortnights)
metric never = offset(revenue, 0 days)

experiment pricing {
  unit user_id; assignment events
  variants control 50% control, treatment 50%
  window 2026-11-01 .. 2026-11-14
  primary wow
}
monitor wow_watch { metric wow; every 1 day; alert when below 0 }
monitor z_offset { metric revenue; every 1 hour; baseline offset 1 day; alert when zscore below -3 }
monitor odd_offset { metric revenue; every 1 week; baseline offset 10 days; alert when below baseline by 10% }
monitor monthly_weeks { metric revenue; every 1 week; baseline same period last month; alert when below baseline by 10% }
monitor fortnightly { metric revenue; every 1 day; baseline same period last fortnight; alert when below baseline by 10% }

# Expected diagnostics (code @ line:column):
# expect: MS450 @ 7:27
# expect: MS451 @ 8:29
# expect: MS452 @ 10:21
# expect: MS452 @ 11:21
# expect: MS453 @ 12:38
# expect: MS453 @ 13:32
# expect: MS450 @ 19:11
# expect: MS454 @ 21:28
# expect: MS454 @ 22:84
# expect: MS451 @ 23:61
# expect: MS451 @ 24:64
# expect: MS453 @ 25:78
