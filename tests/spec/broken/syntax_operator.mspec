# Syntax errors in metric expressions: `revenue +* buyers` (the issue's example), a stray
# character, and a misspelt keyword. Each statement is recovered separately.
source orders = table shop.orders { entity user_id; time ts; column amount: number }

metric revenue = sum(orders.amount)
metric buyers = count_distinct(orders.user_id)
metric per_buyer = revenue +* buyers
metric weird = count(orders) @ 2
metrc typo = count(orders)
metric fine = revenue / buyers

# Expected diagnostics (code @ line:column):
# expect: MS101 @ 7:29
# expect: MS102 @ 8:30
# expect: MS101 @ 9:1 hint=metric
