# Filters must stay inside the safe SQL subset and name columns of their (typed) source.
source orders = table shop.orders {
  entity user_id
  time ts
  column amount: number, status: string
}

metric subquery = count(orders where amount in (select amount from refunds))
metric exists_q = count(orders where exists (select 1 from refunds))
metric ddl = count(orders where drop table orders)
metric two = count(orders where amount > 1; delete from orders)
metric line_comment = count(orders where amount > 1 -- big ones
  )
metric block_comment = count(orders where amount > 1 /* big */)
metric random_fn = count(orders where random() < 0.5)
metric dangling = count(orders where amount >)
metric unknown_col = count(orders where stauts = 'paid')
metric other_table = count(orders where refunds.amount > 0)
metric dquoted = count(orders where status = "paid")
metric fine = count(orders where lower(status) like 'p%' and amount between 1 and 10 and status in ('a', 'b') and status is not null)

experiment e {
  unit user_id
  assignment orders where stat = 'x'
  variants control 50% control, treatment 50%
  window 2026-11-01 .. 2026-11-14
  primary fine
}

# Expected diagnostics (code @ line:column):
# expect: MS403 @ 8:49
# expect: MS403 @ 9:38
# expect: MS403 @ 10:33
# expect: MS403 @ 11:43
# expect: MS403 @ 12:53
# expect: MS403 @ 14:54
# expect: MS403 @ 15:39
# expect: MS404 @ 16:45
# expect: MS405 @ 17:41 hint=status
# expect: MS405 @ 18:41
# expect: MS405 @ 19:46
# expect: MS405 @ 24:27 hint=status
