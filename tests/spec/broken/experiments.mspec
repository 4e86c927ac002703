# Experiment designs that cannot be analysed as declared.
source assignments = table exp.assignments {
  entity user_id
  time assigned_ts
  dimension platform
  column experiment_id: string, variant: string
}
source orders = table shop.orders { entity user_id; time ts; column amount: number }
source devices = table iot.devices { entity device_id; time ts }

metric revenue = sum(orders.amount) { direction up }
metric orders_n = count(orders) { direction up }
metric biggest = max(orders.amount)
metric weekly = rolling(revenue, 7 days)
metric constant = 42
metric latency_ratio = p95(orders.amount) / 2
metric pings = count(devices)
metric refunds = count(orders where amount < 0) { direction down }
metric undirected = count(orders where amount > 100)

experiment split_wrong {
  unit user_id
  assignment assignments variant variant where experiment_id = 'split_wrong'
  variants a 40%, b 50%
  window 2026-11-14 .. 2026-11-01
  primary revenu
  secondary orders_n, orders_n
  guardrail refunds
  guardrail revenue max_increase 10%
  guardrail undirected margin 5%
  guardrail refunds max_decrease 0%
  alpha 0.7; power 1.2; srm_alpha 0.9
  mde 0% relative
  correction hlm
  sequential looks 0
  winsorize revenue at 20%
  traffic 1000 per month
  segments plattform
}

experiment wrong_units {
  unit device_id
  assignment assignments
  variants control 50% control, treatment 50% control
  window 2026-11-01 .. 2026-11-14
  primary orders_n
  secondary biggest, weekly, constant, latency_ratio
  mde 150% relative
}

experiment lonely {
  unit user_id
  assignment assignments
  variants only 100% control, empty 0%, only 0%
  window 2026-11-01 .. 2026-11-14
  primary pings
}

experiment empty {
}

# Expected diagnostics (code @ line:column):
# expect: MS502 @ 24:12
# expect: MS501 @ 24:21
# expect: MS506 @ 25:3
# expect: MS201 @ 26:11 hint=revenue
# expect: MS512 @ 27:23
# expect: MS505 @ 28:3
# expect: MS515 @ 29:21 warning
# expect: MS515 @ 30:24
# expect: MS512 @ 31:13
# expect: MS515 @ 31:21 warning
# expect: MS505 @ 31:34
# expect: MS507 @ 32:9
# expect: MS508 @ 32:20
# expect: MS507 @ 32:35
# expect: MS511 @ 33:3
# expect: MS514 @ 34:14 hint=holm
# expect: MS514 @ 35:3
# expect: MS514 @ 36:24
# expect: MS514 @ 37:3
# expect: MS206 @ 38:12 hint=platform
# expect: MS503 @ 42:8
# expect: MS502 @ 44:33
# expect: MS503 @ 46:11
# expect: MS510 @ 47:13
# expect: MS510 @ 47:22
# expect: MS510 @ 47:30
# expect: MS510 @ 47:40
# expect: MS511 @ 48:3 warning
# expect: MS509 @ 54:37
# expect: MS509 @ 54:41
# expect: MS509 @ 54:46
# expect: MS503 @ 56:11
# expect: MS504 @ 59:12
# expect: MS509 @ 59:12
# expect: MS513 @ 59:12
# expect: MS513 @ 59:12
# expect: MS513 @ 59:12
