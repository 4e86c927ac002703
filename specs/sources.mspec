# The warehouse tables of the support assistant.
#
# Every source names its entities (the keys metrics can be grouped and joined by), its time
# column, its dimensions (what metrics can be sliced by) and — because columns are declared —
# the checker can reject a filter or an aggregation on a column that does not exist.
#
# An entity marked `primary` makes its source a dimension table: one row per key. Every other
# source with that key joins to it many-to-one, so its dimensions can be used anywhere a
# dimension is (`--by users.plan`, `where plan_history.plan = 'pro'`, segments, monitors).

source users "Users" = table support.users {
  description "One row per user."
  entity user_id: string primary
  time signup_ts: timestamp
  dimension plan: string, region: string, locale: string
}

source assignments "Experiment exposures" = table support.assignments {
  description "One row per exposure of a user to an experiment variant."
  entity user_id: string
  time assigned_ts: timestamp
  dimension platform: string
  column experiment_id: string, variant: string
}

source conversations "Conversations" = table support.conversations {
  description "One row per support conversation with the assistant."
  entity user_id: string, conversation_id: string
  time started_ts: timestamp
  dimension channel: string, model_version: string, locale: string
  column ended_ts: timestamp, turns: integer, escalated: boolean, escalation_turn: integer
  column resolved: boolean
}

source ticket_backlog "Ticket backlog snapshots" = table support.backlog_snapshots {
  description "Human-agent tickets open per queue, snapshotted at 00:00 each day (some days missed)."
  entity queue_id: string
  time snapshot_ts: timestamp
  dimension channel: string
  column open_tickets: integer
}

source messages "Messages" = table support.messages {
  description "Every message of every conversation: the customer's questions and the assistant's answers."
  entity user_id: string, conversation_id: string, message_id: integer, model_version: string
  time ts: timestamp
  dimension channel: string, role: string
  column turn: integer, latency_ms: number, prompt_tokens: integer, completion_tokens: integer
  column prompt_cost_usd: number, completion_cost_usd: number, cost_usd: number
  column hallucinated: boolean, is_retry: boolean, is_correction: boolean
}

source feedback "Feedback" = table support.feedback {
  description "Thumbs up/down, the 1–5 CSAT survey and the 1–7 effort score, after a conversation."
  entity user_id: string, conversation_id: string, feedback_id: integer
  time ts: timestamp
  dimension channel: string
  column thumbs: string, csat_score: integer, effort_score: integer
}

# ---------------------------------------------------------------- the dimension layer

source user_profiles "User profiles" = table support.user_profiles {
  description "One row per user: the account they belong to, their country and signup date."
  entity user_id: string primary, account_id: string
  dimension country: string
  column signup_date: date
}

source accounts "Accounts" = table support.accounts {
  description "One row per customer account (a company with several users)."
  entity account_id: string primary
  dimension tier: string, industry: string
}

source models "Assistant models" = table support.models {
  description "One row per model version the assistant has served."
  entity model_version: string primary
  time released_ts: timestamp
  dimension family: string, provider: string
}

source plan_history "Plan history" = table support.plan_history {
  description "Each user's plan over time: a row per plan, valid from `valid_from` until `valid_to` (NULL: current)."
  entity user_id: string primary
  validity valid_from .. valid_to
  dimension plan: string
}

# The checkout nudge experiment: its exposures and the orders it is judged on. The cohort
# is read at each user's first exposure — new (signed up in the exposure's month or the two
# before) or returning — and the plan as it was then, from the plan history.
source checkout_exposures "Checkout nudge exposures" = table support.checkout_exposures {
  entity user_id: string
  time exposed_ts: timestamp
  dimension cohort = case when extract(year from users.signup_ts) * 12 + extract(month from users.signup_ts) >= extract(year from exposed_ts) * 12 + extract(month from exposed_ts) - 2 then 'new' else 'returning' end
  dimension plan_at_exposure = plan_history.plan
  column experiment_id: string, variant: string
}

source checkout_orders "Checkout orders" = table support.checkout_orders {
  entity user_id: string, order_id: integer primary
  time ts: timestamp
  column amount: number
}
