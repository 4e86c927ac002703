# A nudge on the upgrade checkout page, with a broken assignment: new users were far more
# likely to see it than returning ones. Overall the nudged arm spends less; in every
# pre-exposure cohort it spends more. The report warns of Simpson's paradox and names the
# shifted mix.
experiment checkout_nudge "Checkout nudge" {
  description "Does a reminder of the plan's benefits on the checkout page raise spend?"
  owner "growth"
  unit user_id
  assignment checkout_exposures variant variant where experiment_id = 'checkout_nudge'
  variants control 50% control, treatment 50%
  window 2026-11-02 .. 2026-11-08
  primary checkout_spend
  # the cohort and the plan as of each user's first exposure; the account's tier (two joins
  # away, through the user's profile) at its current value
  segments cohort, plan_at_exposure, accounts.tier
}

metric checkout_spend "Checkout spend per user" = sum(checkout_orders.amount) {
  description "Order value per exposed user after exposure."
  direction up; format currency; unit USD; owner "growth"
}
