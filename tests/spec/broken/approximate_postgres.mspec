# dialect: postgres
# PostgreSQL has no approximate distinct count (checked with `--dialect postgres`).
source events = table app.events { entity user_id; time ts }

metric users = count_distinct(events.user_id)
metric users_approx = count_distinct(events.user_id, approximate)
metric wau_approx = rolling(users_approx, 7 days)

# Expected diagnostics (code @ line:column):
# expect: MS455 @ 6:23
