# Aggregations against declared column types, quantiles, weights, windows, ratios across
# sources, division by zero, unknown column types and metadata.
source orders = table shop.orders {
  entity user_id, order_id
  time ts
  column amount: number, status: string, paid: boolean, note: txt
}
source tickets = table support.tickets { entity agent_id; time opened_ts }

metric revenue = sum(orders.amount)
metric status_sum = sum(orders.status)
metric paid_avg = avg(orders.paid)
metric mean_of_rows = avg(orders)
metric p150 = quantile(orders.amount, 1.5)
metric p0 = p0(orders.amount)
metric per_ticket = count(orders) / count(tickets)
metric broken_ratio = revenue / 0
metric score = weighted(revenue: 0.7, per_ticket: 0.7)
metric penalised = weighted(revenue: 1.2, per_ticket: -0.2)
metric rolled_p95 = rolling(p95(orders.amount), 7 days)
metric rolled_plus = rolling(revenue, 7 days) + 1
metric rolled_twice = rolling(rolled_plus, 7 days)
metric labelled = revenue { format pct; direction upward; baseline mean 10 sd 0 }

# Expected diagnostics (code @ line:column):
# expect: MS412 @ 6:63
# expect: MS401 @ 11:32
# expect: MS401 @ 12:30
# expect: MS401 @ 13:23
# expect: MS402 @ 14:39
# expect: MS402 @ 15:13
# expect: MS409 @ 16:21
# expect: MS411 @ 17:33
# expect: MS408 @ 18:16 warning
# expect: MS408 @ 19:43
# expect: MS410 @ 20:21
# expect: MS410 @ 22:31
# expect: MS413 @ 23:36 hint=percent
# expect: MS413 @ 23:51
# expect: MS413 @ 23:59
