# Every construct of the language, written in the DSL. yaml/project.yaml says the same in
# YAML; test_spec_equivalence.py proves both give the same IR.

source events "Events" = table app.events {
  description "One row per \"event\"."
  owner "data-platform"
  entity user_id: string, session_id
  time event_ts: timestamp
  dimension channel: string, country
  column amount: number, kind: string, ok: boolean, rank: integer, day: date
}

source assignments = table app.assignments {
  entity user_id: string
  time assigned_ts
  dimension platform
  column experiment_id: string, arm: string, tenure: integer
}

source recent = query """select * from app.events where kind <> 'test'""" {
  entity user_id: string
  time event_ts
  timezone "America/New_York"
}

# join keys without a type at either end (one with a type at one end only is MS434)
source sessions = table app.sessions {
  entity session_id primary
}

source devices = table app.devices {
  entity device_id
}

source users = table app.users {
  entity user_id: string primary, account_id: string foreign
  time signup_ts: timestamp
  dimension plan: string
  dimension tenure = case when signup_ts < '2026-01-01' then 'old' else 'new' end
}

source plans = table app.plans {
  entity user_id: string primary
  validity valid_from .. valid_to
  dimension plan_at: string
}

metric n_events "Events" = count(events) {
  description "All events."
  owner "analytics"; unit event; format integer; direction none; tags volume, raw
}
metric n_users = count_distinct(events.user_id) { unit user; direction up }
metric enterprise_events = count(events where users.plan = 'enterprise' and plan_at = 'pro')
metric paid_share = count(events where kind = 'paid' and ok) / count(events) { format percent; direction up }
metric revenue = sum(events.amount where amount > 0) { unit usd; direction up; baseline mean 120.5 sd 30; prior mean 0 sd 0.1 }
metric aov = avg(events.amount) { unit usd; format currency; version 2 }
metric aov_mean = mean(events.amount)
metric smallest = min(events.amount)
metric largest = max(events.rank)
metric median_amount = median(events.amount)
metric p50_amount = p50(events.amount)
metric p95_amount = p95(events.amount where channel in ('web', 'app'))
metric p99_amount = p99(events.amount) { direction down; label "p99 amount" }
metric p90_amount = quantile(events.amount where ok, 0.9)
metric recent_users = count_distinct(recent.user_id)
metric per_recent_user = count(events) / count_distinct(recent.user_id)
metric arpu = revenue / n_users { direction up }
metric derived = -(revenue - 2 * aov) / (n_users + 1) + 50%
metric unpaid_share = 1 - paid_share { format percent; direction down }
metric index = weighted(paid_share: 0.5, 1 - unpaid_share: 30%, aov / 100: 0.2)
metric converted = conversion(events where kind = 'visit' -> events where kind = 'paid', within 1 day, by user_id)
metric converted_any = conversion(events -> recent, within 30 minutes)
metric revenue_7d = rolling(revenue, 7 days)
metric revenue_to_date = cumulative(revenue)
metric balance = sum(events.amount where ok, last per user_id, session_id)
metric opening_events = count(events, first)
metric revenue_wow = revenue - offset(revenue, 1 week)
metric revenue_yoy = growth(revenue, 1 year)
metric revenue_share_7d = revenue / rolling(revenue, 7 days)

kpi growth "Growth" {
  description "Revenue and what drives it."
  owner "leadership"
  north_star revenue
  revenue <- product(n_users, arpu)
  arpu <- ratio(aov, unpaid_share)
  n_users <- sum(recent_users, n_events)
  aov <- weighted(index: 0.7, paid_share: 30%)
  index <- drivers(converted, converted_any)
  converted <- smallest, largest
}

guardrail slow "p99 under 3 s" = p99_amount <= 3000 every 1 hour
guardrail paid_floor = paid_share >= 5%
guardrail paid_ceiling = paid_share < 99.5% every 5 minutes
guardrail aov_high = aov > 0.5pp { description "Averages stay positive."; owner "finance" }

experiment checkout_v2 "Checkout v2" {
  description "A new checkout page."
  owner "growth"
  unit user_id
  assignment assignments variant arm where experiment_id = 'checkout_v2' and platform <> 'bot'
  variants control 50% control, treatment 50%
  window 2026-11-01 .. 2026-11-14
  primary paid_share
  secondary revenue, aov
  guardrail p99_amount max_increase 10%
  guardrail n_events max_decrease 0.5pp
  guardrail unpaid_share margin 2%
  alpha 0.01; power 0.9; srm_alpha 0.005
  mde 2% relative
  correction bh
  cuped 14 days
  sequential looks 5 spending obrien_fleming
  stratify platform
  segments platform, users.plan, user_id.tenure
  winsorize revenue at 99%
  winsorize aov at 0.995
  covariates pre(revenue), unit.tenure
  traffic 900 per day
}

experiment pricing {
  unit user_id
  assignment assignments
  variants a 30% control, b 30%, c 40%
  window 2026-11-01T08:00 .. 2026-11-14T20:00
  primary revenue
  mde 5 absolute
  correction none
  sequential
  analysis bayesian; prior mean -0.01 sd 0.3; chance_to_win 97%; max_risk 0.5%
  traffic 6000 per week
}

monitor paid_drop "Paid share drop" {
  description "Paid share falls below its trailing hour."
  owner "on-call"
  metric paid_share
  every 5 minutes
  baseline trailing 1 hour
  alert when below baseline by 15%
  min_n 200
  dimensions channel, users.plan
}
monitor revenue_rise { metric revenue; every 1 hour; baseline trailing 1 day; alert when above baseline by 0.5 }
monitor users_low { metric n_users; every 1 day; alert when below 100 for 3 windows }
monitor events_high { metric n_events; every 15 minutes; alert when above 1e6 }
monitor revenue_hour_wow { metric revenue; every 1 hour; baseline offset 1 week; alert when below baseline by 20% }
monitor revenue_same_day { metric revenue; every 1 day; baseline same period last year; alert when below baseline by 20% }
monitor z_low { metric aov; every 1 hour; baseline trailing 1 week; alert when zscore below -3 }
monitor z_high { metric aov; every 1 hour; baseline trailing 2 days; alert when zscore above 4 for 2 windows }

calendar {
  description "Periods in Berlin time, weeks from Sunday, fiscal years from April."
  timezone "Europe/Berlin"; week_start sunday; fiscal_year_start april
}
