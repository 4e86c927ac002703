# A source query some warehouses cannot parse: a warning naming them without --dialect
# (MS702), an error when one of them is chosen (see source_query_dialect_chosen.mspec).
source quoted = query "SELECT * FROM `shop.orders`" { entity user_id; time ts }
source union_bare = query "SELECT * FROM a.x UNION SELECT * FROM a.y" { entity user_id; time ts }

# expect: MS702 @ 3:8 warning
# expect: MS702 @ 4:8 warning
