# A dimension may not take a name only the monitor's series query builds (MS417).
source events = table app.events { entity user_id; time ts; dimension alert, judged, alert_limit }
metric hits = count(events)
monitor by_alert { metric hits; every 1 hour; alert when above 100; dimensions alert }
monitor by_judged { metric hits; every 1 hour; alert when above 100; dimensions judged, alert_limit }

# expect: MS417 @ 4:80
# expect: MS417 @ 5:81
# expect: MS417 @ 5:89
