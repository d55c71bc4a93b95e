"""Seeds the sessions table up to N rows of other users' sessions (small, realistic-shaped rows)."""
import os
import sqlite3
import sys
import time

db, target = sys.argv[1], int(sys.argv[2])
now = int(time.time())
with sqlite3.connect(db) as connection:
    have = connection.execute("select count(*) from sessions").fetchone()[0]
    rows = (
        (
            os.urandom(32).hex(), "sub", "seeded", None, "", "csrf",
            os.urandom(48), os.urandom(48), os.urandom(48), now + 3600, now, None, 0, 0, now + 86400,
        )
        for _ in range(max(0, target - have))
    )
    connection.executemany(
        "insert into sessions (id_hash, user_sub, username, email, groups, csrf_token, id_token, access_token,"
        " refresh_token, access_expires_at, signed_in_at, last_refresh_at, refresh_count, refresh_lease_until,"
        " expires_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    count = connection.execute("select count(*) from sessions").fetchone()[0]
print(f"seeded: {count} sessions in the database", file=sys.stderr)
