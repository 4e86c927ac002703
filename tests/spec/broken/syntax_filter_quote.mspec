# An unclosed quote in a filter is reported where it is, and does not swallow the next
# statement (whose own filter, with quotes, is valid).
source orders = table shop.orders { entity user_id; time ts; column status: string }

metric broken = count(orders where status = 'open)
metric paid = count(orders where status in ('paid', 'shipped')) / count(orders)

# Expected diagnostics (code @ line:column):
# expect: MS102 @ 5:45
