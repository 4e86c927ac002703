# Nesting too deep to build or inline: a statement more than 200 levels deep (MS110), and
# metrics built on metrics more than 200 levels deep once inlined (MS304, reported once, at
# the first metric that crosses the limit).
source events = table app.events { entity user_id; time ts }

metric deep = ----------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------------1
metric fine = count(events)
metric m0 = count(events)
metric m1 = ------------------------------------------------------------m0
metric m2 = ------------------------------------------------------------m1
metric m3 = ------------------------------------------------------------m2
metric m4 = ------------------------------------------------------------m3
metric m5 = m4 + fine

# Expected diagnostics (code @ line:column):
# expect: MS110 @ 6:1
# expect: MS304 @ 12:8
