# Time zones: a source's own zone is an IANA name, on a source with a time column; an
# experiment reads event times in UTC.
source calls = table support.calls {
  entity user_id
  time started_at
  timezone "America/New_Yrok"
}

source notes = table support.notes {
  entity user_id
  timezone "Europe/Berlin"
}

source visits = table web.visits {
  entity user_id
  time ts
  timezone "America/New_York"
  dimension variant
}

metric visit_count = count(visits)

experiment homepage {
  unit user_id
  assignment visits variant variant
  variants control 50% control, treatment 50%
  primary visit_count
  window 2026-11-01 .. 2026-11-14
}

# expect: MS444 @ 6:12 hint=America/New_York
# expect: MS445 @ 11:12
# expect: MS446 @ 23:12
