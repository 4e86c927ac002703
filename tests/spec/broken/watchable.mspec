# Metrics a monitor or guardrail cannot watch (MS607), and a conversion between sources
# that share no entity, so it has no unit to follow (MS409).
source events = table app.events { entity user_id; time ts; column amount: number }
source devices = table iot.devices { entity device_id; time ts }

metric revenue = sum(events.amount)
metric revenue_7d = rolling(revenue, 7 days)
metric target = 1000
metric activation = conversion(events -> devices, within 1 day)

monitor rolled { metric revenue_7d; every 1 day; alert when below 10 }
monitor constant { metric target; every 1 hour; alert when below 10 }
guardrail weekly_floor = revenue_7d >= 100 every 1 day

# Expected diagnostics (code @ line:column):
# expect: MS409 @ 9:21
# expect: MS607 @ 11:25
# expect: MS607 @ 12:27
# expect: MS607 @ 13:26
