# An aggregate option that is neither `approximate` nor `first`/`last`.
source s = table t { entity a; time ts; column x: number }
metric m = sum(s.x, lastt per a)

# Expected diagnostics (code @ line:column):
# expect: MS101 @ 3:21
