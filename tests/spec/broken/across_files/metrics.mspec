# Duplicates and references across files: a metric defined in this DSL file and again in
# the YAML file beside it; a reference into the YAML file resolves.
source events = table app.events { entity user_id; time ts; column amount: number }

metric revenue = sum(events.amount) { direction up }
metric per_order = revenue / order_count
