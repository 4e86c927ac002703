# KPI trees: a cycle, a tree without a north star, and an edge not under the north star.
source events = table app.events { entity user_id; time ts; column amount: number }

metric revenue = sum(events.amount) { unit usd; direction up }
metric orders = count(events) { unit order; direction up }
metric aov = revenue / orders { unit usd/order; direction up }
metric visits = count_distinct(events.user_id) { unit user; direction up }

kpi looped {
  north_star revenue
  revenue <- product(orders, aov)
  aov <- drivers(revenue)
}

kpi headless {
  revenue <- product(orders, aov)
}

kpi stray {
  north_star revenue
  revenue <- product(orders, aov)
  visits <- drivers(orders)
}

# Expected diagnostics (code @ line:column):
# expect: MS302 @ 12:18 path="aov -> revenue -> aov"
# expect: MS303 @ 15:5
# expect: MS303 @ 22:3 warning
