# Source queries must be exactly one read-only SELECT, judged for every warehouse (MS415),
# and table paths [catalog.][schema.]table (MS416).
source ok_select = query "WITH recent AS (SELECT * FROM shop.orders) SELECT * FROM recent" { entity user_id; time ts }
source ok_union = query "SELECT * FROM a.x UNION ALL SELECT * FROM a.y" { entity user_id; time ts }
source deletes = query "DELETE FROM shop.orders" { entity user_id; time ts }
source copies = query "COPY shop.orders TO 'out.csv'" { entity user_id; time ts }
source attaches = query "ATTACH 'other.duckdb' AS other" { entity user_id; time ts }
source pragma = query "PRAGMA database_list" { entity user_id; time ts }
source sets = query "SET search_path = shop" { entity user_id; time ts }
source creates = query "CREATE TABLE copy AS SELECT * FROM shop.orders" { entity user_id; time ts }
source two = query "SELECT * FROM shop.orders; DROP TABLE shop.orders" { entity user_id; time ts }
source hidden = query "SELECT * FROM shop.orders /* read */; DELETE FROM shop.orders" { entity user_id; time ts }
source into = query "SELECT * INTO shop.copy FROM shop.orders" { entity user_id; time ts }
source cte_write = query "WITH d AS (DELETE FROM shop.orders RETURNING *) SELECT * FROM d" { entity user_id; time ts }
source locks = query "SELECT * FROM shop.orders FOR UPDATE" { entity user_id; time ts }
source calls = query "CALL refresh_orders()" { entity user_id; time ts }
source empty = query "  -- nothing" { entity user_id; time ts }
source nonsense = query "CHECKPOINT" { entity user_id; time ts }
source values_only = query "VALUES (1, 2)" { entity user_id; time ts }
source deep = table a.b.c.d { entity user_id; time ts }
source reads_file = query "SELECT * FROM read_csv('/etc/passwd')" { entity user_id; time ts }
source runs_text = query "SELECT * FROM shop.orders WHERE 1 = (SELECT count(*) FROM query('DROP TABLE t'))" { entity user_id; time ts }
source kills = query "SELECT pg_terminate_backend(pid) AS user_id, now() AS ts FROM pg_stat_activity" { entity user_id; time ts }
source jvm = query "SELECT reflect('java.lang.Runtime', 'getRuntime') AS user_id, ts FROM a.x" { entity user_id; time ts }
source admin = query "SELECT SYSTEM$CANCEL_ALL_QUERIES(1) AS user_id, ts FROM a.x" { entity user_id; time ts }

# expect: MS415 @ 5:8
# expect: MS415 @ 6:8
# expect: MS415 @ 7:8
# expect: MS415 @ 8:8
# expect: MS415 @ 9:8
# expect: MS415 @ 10:8
# expect: MS415 @ 11:8
# expect: MS415 @ 12:8
# expect: MS415 @ 13:8
# expect: MS415 @ 14:8
# expect: MS415 @ 15:8
# expect: MS415 @ 16:8
# expect: MS415 @ 17:8
# expect: MS415 @ 18:8
# expect: MS415 @ 19:8
# expect: MS416 @ 20:8

# expect: MS415 @ 21:8
# expect: MS415 @ 22:8
# expect: MS415 @ 23:8
# expect: MS415 @ 24:8
# expect: MS415 @ 25:8
