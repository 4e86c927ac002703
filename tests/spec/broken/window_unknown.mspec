# A window over a metric that does not exist is one error, the unknown name (MS201): what
# it would roll up is not known, so it is not also reported as rolling up a constant (MS410).
source events = table app.events { entity user_id; time ts }

metric weekly_users = rolling(active_users, 7 days)
metric month_cost = to_date(total_cost, month)
metric fine = rolling(count(events), 7 days)

# expect: MS201 @ 5:31
# expect: MS201 @ 6:29
