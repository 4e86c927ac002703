# A block still open when the next statement starts is reported where its `}` belongs;
# the statements after it are parsed and checked as usual.
source orders = table shop.orders { entity user_id; time ts; column amount: number

metric revenue = sum(orders.amount)
metric unknown_after_recovery = revenu * 2

# Expected diagnostics (code @ line:column):
# expect: MS101 @ 3:83
# expect: MS201 @ 6:33 hint=revenue
