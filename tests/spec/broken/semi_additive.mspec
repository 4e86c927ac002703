# Aggregate options: approximate distinct counts and semi-additive (balance) measures.
source backlog = table support.backlog_snapshots {
  entity queue_id, account_id; time snapshot_date
  dimension channel; column open_tickets: integer
}
source plain = table support.plain { entity queue_id; column open_tickets: integer }
source events = table support.events { entity user_id; time ts }

metric backlog_ok = sum(backlog.open_tickets, last per queue_id)
metric approx_sum = sum(backlog.open_tickets, approximate)
metric semi_distinct = count_distinct(backlog.queue_id, last per queue_id)
metric no_time = sum(plain.open_tickets, last)
metric bad_per = sum(backlog.open_tickets, first per channel)
metric rolled = rolling(backlog_ok, 7 days)
metric users_approx = count_distinct(events.user_id, approximate)

experiment exp {
  unit user_id; assignment events; variants control 50% control, treatment 50%
  window 2026-11-01 .. 2026-11-14
  primary users_approx
  secondary backlog_ok
}

# Expected diagnostics (code @ line:column):
# expect: MS456 @ 10:21
# expect: MS456 @ 11:57
# expect: MS605 @ 12:22
# expect: MS457 @ 13:54 hint=queue_id
# expect: MS458 @ 14:17
# expect: MS455 @ 15:23 warning
# expect: MS459 @ 20:11
# expect: MS459 @ 21:13
# expect: MS503 @ 21:13
