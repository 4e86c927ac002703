# Cycles among derived metrics, printed as the whole path, once per cycle, at the reference
# that closes it in the alphabetically first metric.
source events = table app.events { entity user_id; time ts }

metric a = b + 1
metric b = c * 2
metric c = a / 3
metric d = d + count(events)

# Expected diagnostics (code @ line:column):
# expect: MS301 @ 5:12 path="a -> b -> c -> a"
# expect: MS301 @ 8:12 path="d -> d"
