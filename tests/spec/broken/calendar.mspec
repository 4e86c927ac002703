# The calendar: an IANA zone, a weekday, a month, and only one per project.
calendar {
  timezone "Europe/Berlinn"
  week_start sundy
  fiscal_year_start aprl
}

calendar {
  timezone "Not/AZone"
}

# expect: MS440 @ 3:12 hint=Europe/Berlin
# expect: MS441 @ 4:14 hint=sunday
# expect: MS441 @ 5:21 hint=april
# expect: MS442 @ 8:1
# expect: MS440 @ 9:12
