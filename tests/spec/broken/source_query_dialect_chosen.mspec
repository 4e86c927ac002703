# With --dialect, a source query the chosen warehouse cannot parse is an error (MS702); the
# other warehouses are not mentioned.
# dialect: postgres
source quoted = query "SELECT * FROM `shop.orders`" { entity user_id; time ts }
source union_bare = query "SELECT * FROM a.x UNION SELECT * FROM a.y" { entity user_id; time ts }

# expect: MS702 @ 4:8
