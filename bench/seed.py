"""Seeds the sessions table: KNOWN sessions whose cookie ids are written to a file (so the load
generator can present them), then other users' sessions up to TOTAL rows.

    python3 bench/seed.py DB TOTAL KNOWN IDS_FILE
"""
import base64
import hashlib
import os
import sqlite3
import sys
import time

db, total, known, ids_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
now = int(time.time())


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def row(id_hash, username):
    return (
        id_hash, "seeded-sub", username, f"{username}@example.com", "", b64url(os.urandom(32)),
        os.urandom(48), os.urandom(48), os.urandom(48), now + 3600, now, None, 0, 0, now + 86400,
    )


ids = [b64url(os.urandom(32)) for _ in range(known)]
with sqlite3.connect(db) as connection:
    connection.execute("delete from sessions where user_sub = 'seeded-sub'")
    insert = (
        "insert into sessions (id_hash, user_sub, username, email, groups, csrf_token, id_token, access_token,"
        " refresh_token, access_expires_at, signed_in_at, last_refresh_at, refresh_count, refresh_lease_until,"
        " expires_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    connection.executemany(insert, (row(b64url(hashlib.sha256(i.encode()).digest()), "known") for i in ids))
    have = connection.execute("select count(*) from sessions").fetchone()[0]
    connection.executemany(insert, (row(os.urandom(32).hex(), "other") for _ in range(max(0, total - have))))
    count = connection.execute("select count(*) from sessions").fetchone()[0]
with open(ids_file, "w") as out:
    out.write(",".join(f'"{i}"' for i in ids))
print(f"seeded: {count} sessions in the database, {known} of them presented by the load", file=sys.stderr)
