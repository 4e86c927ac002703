# The demo warehouse tables: a copy of specs/sources.mspec, so that this benchmark does not
# change when the example specs do.

source users "Users" = table support.users {
  description "One row per customer account."
  entity user_id: string
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

source messages "Messages" = table support.messages {
  description "Every message of every conversation: the customer's questions and the assistant's answers."
  entity user_id: string, conversation_id: string, message_id: integer
  time ts: timestamp
  dimension channel: string, model_version: string, role: string
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
