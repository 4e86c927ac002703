# Unknown names, each with a did-you-mean where a close name exists.
source interactions = table support.interactions {
  entity user_id, session_id
  time event_ts
  dimension channel
  column rating: string, latency_ms: number
}

metric csat = count(interactions where rating = 'up') / count(interactions)
metric deflection = csta * 2
metric sessions = count_distinct(interactons.session_id)
metric latency = avg(interactions.latency)
metric returning = conversion(interactions -> interactions, within 7 days, by usr_id)

experiment e {
  unit user_id
  assignment interactions
  variants control 50% control, treatment 50%
  window 2026-11-01 .. 2026-11-14
  primary csat
  segments chanel
}

monitor m {
  metric csat
  every 1 hour
  alert when below 0.5
  dimensions chanel
}

# Expected diagnostics (code @ line:column):
# expect: MS201 @ 10:21 hint=csat
# expect: MS202 @ 11:34 hint=interactions
# expect: MS203 @ 12:35 hint=latency_ms
# expect: MS205 @ 13:79 hint=user_id
# expect: MS206 @ 21:12 hint=channel
# expect: MS206 @ 28:14 hint=channel
