# Bayesian readouts and group-sequential designs (MS514): a prior needs a positive sd, the
# analysis is frequentist or bayesian, its settings need `analysis bayesian`, the chance to
# win is a threshold above 50%, the risk a fraction, and the spending function a known one;
# strata are a dimension of the assignment source (MS206).
source events = table app.events { entity user_id; time ts; column amount: number, variant: string }
metric revenue = sum(events.amount) { direction up; prior mean 0 sd 0 }
experiment e {
  unit user_id
  assignment events variant variant
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary revenue
  analysis bayesain
  chance_to_win 40%
  max_risk 1.5
  sequential looks 4 spending pocok
}
experiment f {
  unit user_id
  assignment events variant variant
  variants control 50% control, treatment 50%
  window 2026-10-01 .. 2026-10-14
  primary revenue
  prior mean 0 sd 0.2
  max_risk 1%
  sequential looks 25 spending pocock
  stratify country
}

# expect: MS514 @ 6:53
# expect: MS514 @ 13:12 hint=bayesian
# expect: MS514 @ 14:17
# expect: MS514 @ 15:12
# expect: MS514 @ 16:3 hint=pocock
# expect: MS514 @ 24:3
# expect: MS514 @ 25:12
# expect: MS514 @ 26:3
# expect: MS206 @ 27:12
