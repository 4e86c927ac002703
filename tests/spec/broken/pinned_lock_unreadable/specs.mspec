# A lock file beside the specs that is not JSON: nothing pinned can be checked (MS519 at the
# lock's first line).
source events = table app.events { entity user_id; time ts }
metric n = count(events)
