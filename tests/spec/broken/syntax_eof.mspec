# The file ends in the middle of a statement.
source orders = table shop.orders { entity user_id; time ts }

metric revenue = count(orders

# Expected diagnostics (code @ line:column):
# expect: MS103 @ 4:30
