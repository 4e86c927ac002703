# Quantiles outside (0, 1), however written, are MS402 at the argument, not syntax errors.
source s = table app.events { entity user_id  time ts  column x: number }
metric top = p100(s.x)
metric pct = quantile(s.x, 95%)
metric neg = quantile(s.x where x > 1, -0.5)
metric one = quantile(s.x, 1)
metric fine = p99(s.x) + quantile(s.x, 0.25)

# Expected diagnostics (code @ line:column):
# expect: MS402 @ 3:14
# expect: MS402 @ 4:28
# expect: MS402 @ 5:40
# expect: MS402 @ 6:28
