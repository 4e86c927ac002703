# Joined dimensions in segments, monitor slices, assignment and conversion filters: each
# reference leads along one many-to-one path, judged at its span.
source events = table s.events {
  entity event_id: integer primary, user_id: string, account_id: string
  time ts: timestamp
  dimension channel: string; column amount: number
}
source users = table s.users {
  entity user_id: string primary, account_id: string
  time signup_ts: timestamp
  dimension plan: string, country: string
}
source accounts = table s.accounts {
  entity account_id: string primary
  dimension plan: string, tier: string
}
source tickets = table s.tickets {
  entity ticket_id: integer primary, user_id: string
  time opened_ts: timestamp
  dimension severity: string
}
source exposures = table s.exposures {
  entity user_id
  time exposed_ts: timestamp
  column experiment_id: string, variant: string
}
metric revenue = count(events)
metric converted = conversion(events where plan = 'pro' -> tickets where users.colour = 'x', within 1 day, by user_id)
experiment nudge {
  unit user_id
  assignment exposures variant variant where experiment_id = 'n' and tickets.severity = 'high'
  variants control 50% control, treatment 50%
  window 2026-11-01 .. 2026-11-08
  primary revenue
  segments users.plan, user_id.account_id.tier, users.colour, tickets.severity
}
monitor revenue_by_plan {
  metric revenue
  every 1 day
  alert when below 10
  dimensions users.country, plan, users.account_id.tier, accounts.colour
}

# Expected diagnostics (code @ line:column):
# expect: MS434 @ 23:10 warning hint="entity user_id: string"
# expect: MS430 @ 28:44 hint=user_id.plan
# expect: MS206 @ 28:74
# expect: MS431 @ 31:70
# expect: MS206 @ 35:49
# expect: MS431 @ 35:63
# expect: MS430 @ 41:29 hint=user_id.plan
# expect: MS206 @ 41:58
