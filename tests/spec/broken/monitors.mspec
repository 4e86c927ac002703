# Monitors and always-on guardrails that cannot work as declared.
source events = table app.events { entity user_id; time ts; dimension country; column amount: number }
source snapshots = table app.snapshots { entity user_id }

metric revenue = sum(events.amount)
metric users = count(snapshots)

monitor grain {
  metric revenue
  every 7 minutes
  baseline trailing 10 minutes
  alert when below baseline by 150%
  min_n 0
  dimensions countri
}

monitor no_time { metric users; every 1 hour; alert when above 3 for 0 windows }

monitor missing { every 2 days; alert when zscore above 0 }

monitor no_baseline { metric revenue; every 5 minutes; alert when above baseline by 0% }

guardrail fast = revenue <= 5 every 7 minutes
guardrail counted = users >= 1
guardrail ghost = revenu <= 5

# Expected diagnostics (code @ line:column):
# expect: MS606 @ 10:9
# expect: MS601 @ 11:21
# expect: MS602 @ 12:32
# expect: MS603 @ 13:9
# expect: MS206 @ 14:14 hint=country
# expect: MS605 @ 17:26
# expect: MS602 @ 17:58
# expect: MS604 @ 19:9
# expect: MS606 @ 19:25
# expect: MS602 @ 19:57
# expect: MS604 @ 19:44
# expect: MS604 @ 21:67
# expect: MS602 @ 21:85
# expect: MS606 @ 23:37
# expect: MS605 @ 24:21
# expect: MS201 @ 25:19 hint=revenue
# expect: MS605 @ 6:22
