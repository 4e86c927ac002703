# A monitor sliced through a join over a metric holding a conversion: refused at the slice.
source events = table a.events {
  entity user_id: string
  time ts: timestamp
  dimension channel: string
  column amount: number
}
source signups = table a.signups {
  entity user_id: string
  time ts: timestamp
}
source users = table a.users {
  entity user_id: string primary
  dimension plan: string
}
metric revenue = sum(events.amount)
metric conv = conversion(signups -> events, within 1 day)
metric both = conv + revenue
monitor m1 {
  metric both
  every 1 day
  alert when below 0.1
  dimensions users.plan
}

# expect: MS405 @ 23:14
