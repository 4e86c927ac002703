# Calendar windows: a to-date metric accumulates to a calendar period; months and quarters
# are lengths of rolling windows only.
source events = table events {
  time ts: timestamp
  column amount: number
}
metric revenue = sum(events.amount)
metric revenue_mtd = to_date(revenue, fortnight)
metric revenue_3m = rolling(revenue, 3 months)
monitor revenue_drop {
  metric revenue
  every 1 month
  baseline trailing 3 months
  alert when below baseline by 15%
}

# expect: MS447 @ 8:39
# expect: MS448 @ 12:9
# expect: MS448 @ 13:21
