"""Refresh storm: expire every access token, then send N concurrent requests per session.

Prints the token-endpoint calls it caused (there must be exactly one per session) and the latency
added against the same requests once the tokens are fresh.
"""
import concurrent.futures
import http.client
import json
import sqlite3
import sys
import time
import urllib.parse
import urllib.request

app, idp, db, log, per_session, sessions = (
    sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6:]
)
app_url = urllib.parse.urlsplit(app)


def refresh_calls():
    request = urllib.request.Request(f"{idp}/_dev/counts", headers={"x-dev-idp-control": "yes"})
    with urllib.request.urlopen(request) as response:
        return json.load(response).get("token:refresh_token", 0)


def get(session):
    started = time.perf_counter()
    connection = http.client.HTTPConnection(app_url.hostname, app_url.port, timeout=30)
    connection.request("GET", "/admin", headers={"Cookie": f"session={session}"})
    status = connection.getresponse().status
    connection.close()
    return status, (time.perf_counter() - started) * 1000


def burst():
    requests = [session for session in sessions for _ in range(per_session)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(requests)) as pool:
        results = list(pool.map(get, requests))
    bad = [status for status, _ in results if status != 200]
    if bad:
        sys.exit(f"storm: {len(bad)} answers were not 200: {sorted(set(bad))}")
    latencies = sorted(ms for _, ms in results)
    return latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]


before = refresh_calls()
with sqlite3.connect(db) as connection:
    connection.execute("update sessions set access_expires_at = strftime('%s', 'now') - 1")
# The app trusts its cached copy of a session for up to a second; let it lapse.
time.sleep(1.5)
storm_p50, storm_p99 = burst()
calls = refresh_calls() - before
calm_p50, calm_p99 = burst()

# The app logs each token call's own duration ("access token refreshed ... token_call_ms=…").
with open(log) as lines:
    token_calls = sorted(
        float(line.split("token_call_ms=")[1].split()[0])
        for line in lines
        if "token_call_ms=" in line
    )
token_p50 = token_calls[len(token_calls) // 2] if token_calls else float("nan")

print(f"| sessions | requests | token-endpoint calls | token call p50 ms | storm p50 / p99 ms | fresh p50 / p99 ms | added p50 / p99 ms | added p50 − token call |")
print(f"|---|---|---|---|---|---|---|---|")
print(
    f"| {len(sessions)} | {len(sessions) * per_session} | {calls} (must be {len(sessions)}) "
    f"| {token_p50:.1f} | {storm_p50:.1f} / {storm_p99:.1f} | {calm_p50:.1f} / {calm_p99:.1f} "
    f"| {storm_p50 - calm_p50:+.1f} / {storm_p99 - calm_p99:+.1f} | {storm_p50 - calm_p50 - token_p50:+.1f} |"
)
if calls != len(sessions):
    sys.exit("storm: the number of token-endpoint calls is not the number of sessions")
