# A misspelt function is named as an unknown function at its name, with the closest function
# proposed (the parser itself only sees an unexpected `(`). A name and `(` with a space
# between is more likely a missing operator and is left as a syntax error at `(`.
source events = table app.events { entity user_id; time ts; column value: number }

metric total = summ(events.value)
metric rolled = rollin(total, 7 days)
metric other = total (total)
kpi tree {
  north_star total
  total <- prodcut(rolled, other)
}

# expect: MS101 @ 6:16 hint=sum
# expect: MS101 @ 7:17 hint=rolling
# expect: MS101 @ 8:22
# expect: MS101 @ 11:12 hint=product
