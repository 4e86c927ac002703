metric m = csta
# A UTF-8 byte order mark is allowed, and columns on the first line do not count it.
# expect: MS201 @ 1:12
