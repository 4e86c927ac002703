# A file that is not UTF-8 text: the café below is Latin-1.
metric café = 1

# Expected diagnostics (code @ line:column):
# expect: MS100 @ 1:41
