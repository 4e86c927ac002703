# KPI compositions whose units, directions, weights or arity do not fit.
source orders = table shop.orders { entity user_id; time ts; column amount: number }
source visits = table web.visits { entity user_id; time ts }

metric revenue = sum(orders.amount) { unit usd; direction up }
metric orders_n = count(orders) { unit order; direction up }
metric aov = revenue / orders_n { unit usd/order; direction up }
metric visitors = count_distinct(visits.user_id) { unit user; direction up }
metric conversion = orders_n / visitors { unit order/user; direction up }
metric cost = sum(orders.amount where amount < 0) { unit usd; direction down }
metric margin = revenue - cost { unit usd; direction up }

kpi units {
  north_star revenue
  revenue <- product(visitors, aov)
  margin <- sum(revenue, orders_n)
}

kpi directions {
  north_star margin
  margin <- sum(revenue, cost)
  aov <- ratio(revenue, cost)
}

kpi shapes {
  north_star revenue
  revenue <- ratio(aov, orders_n, visitors)
  aov <- product(revenue)
  margin <- weighted(revenue: 0.5, cost)
  conversion <- weighted(orders_n: 1.5, visitors: -0.5)
  orders_n <- drivers(visitors: 2)
}

# Expected diagnostics (code @ line:column):
# expect: MS406 @ 15:3
# expect: MS303 @ 16:3 warning
# expect: MS406 @ 16:26
# expect: MS407 @ 21:26
# expect: MS303 @ 22:3 warning
# expect: MS406 @ 22:3
# expect: MS414 @ 27:3
# expect: MS414 @ 28:3
# expect: MS302 @ 28:18 path="aov -> revenue -> aov"
# expect: MS303 @ 29:3 warning
# expect: MS407 @ 29:36
# expect: MS408 @ 29:36
# expect: MS303 @ 30:3 warning
# expect: MS406 @ 30:26
# expect: MS406 @ 30:41
# expect: MS408 @ 30:41
# expect: MS408 @ 31:23 warning
