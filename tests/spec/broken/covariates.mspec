# Regression-adjustment covariates (MS520): each a per-unit count or sum before exposure.
source events = table app.events { entity user_id; time ts; column amount: number, variant: string, tier: string, tenure: integer }
source profiles = table app.profiles { entity account_id; time ts; column score: number }
source orders = table app.orders { entity user_id; time ts; column amount: number }

metric revenue = sum(orders.amount)
metric per_event = sum(orders.amount) / count(events)
metric scores = sum(profiles.score)

experiment adjusted {
  unit user_id
  assignment events variant variant
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary revenue
  cuped 14 days
  covariates pre(revenu), pre(per_event), pre(scores), unit.tier, unit.tenur, unit.tenure
  covariates unit.tenure
}

experiment no_pre_period {
  unit user_id
  assignment events variant variant
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary revenue
  covariates pre(revenue)
}

experiment nothing_to_adjust {
  unit user_id
  assignment events variant variant
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary per_event
  cuped 14 days
  covariates unit.tenure
}

# expect: MS520 @ 17:18 hint=revenue
# expect: MS520 @ 17:31
# expect: MS520 @ 17:47
# expect: MS520 @ 17:61
# expect: MS520 @ 17:72 hint=tenure
# expect: MS520 @ 18:14
# expect: MS520 @ 27:14
# expect: MS520 @ 37:14 warning
