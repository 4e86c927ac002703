# Joins: every reference to another table's dimension leads along one many-to-one path.
source messages = table s.messages {
  entity message_id: integer primary, user_id: string, conversation_id: string
  time ts: timestamp
  dimension role: string; column body: string
  dimension bad_plan = account_id.nothing
}
source conversations = table s.conversations {
  entity conversation_id: string primary, user_id: string
  time started_ts: timestamp
  dimension channel: string
}
source users = table s.users {
  entity user_id: string primary, account_id: integer
  time signup_ts: timestamp
  dimension plan: string
}
source accounts = table s.accounts {
  entity account_id: string primary
  dimension tier: string
}
source tickets = table s.tickets {
  entity ticket_id: integer primary, user_id: string
  time opened_ts: timestamp
  dimension severity: string
}
source plans = table s.plans {
  entity user_id: string primary
  validity valid_from .. valid_to
  dimension plan_at: string
}
source snapshots = table s.snapshots {
  entity user_id: string
  dimension score: string
}
source teams = table s.teams {
  entity team_id: string primary, lead_id: string
  dimension team_name: string
}
source leads = table s.leads {
  entity lead_id: string primary, team_id: string
  dimension lead_name: string
}
source orphans = table s.orphans {
  entity user_id: string
  dimension kind: string
}
metric ambiguous = count(messages where plan = 'pro')
metric chosen = count(messages where user_id.plan = 'pro')
metric fan_out = count(messages where tickets.severity = 'high')
metric unknown = count(messages where users.colour = 'red')
metric many = count(tickets where snapshots.score = 'a')
metric one_to_many = count(users where tickets.severity = 'high')
metric not_a_path = count(messages where app.events.status = 'x')
metric typo_table = count(messages where userz.region = 'eu')

# Expected diagnostics (code @ line:column):
# expect: MS206 @ 6:24
# expect: MS432 @ 14:47
# expect: MS433 @ 32:8
# expect: MS305 @ 37:35
# expect: MS433 @ 44:8
# expect: MS430 @ 48:41 hint=user_id.plan
# expect: MS431 @ 50:39
# expect: MS206 @ 51:39
# expect: MS431 @ 52:35
# expect: MS431 @ 53:40
# expect: MS405 @ 54:42
# expect: MS405 @ 55:42 hint=users
