"""Refresh storm: expire every access token, then send N concurrent requests per session.

    python3 bench/storm.py APP_URLS IDP_URL DATABASE_URL LOGS PER_SESSION SESSION...

APP_URLS and LOGS are comma-separated: with several instances, the requests go to each in turn.
Prints the token-endpoint calls it caused (there must be exactly one per session) and the latency
added against the same requests once the tokens are fresh.
"""
import concurrent.futures
import http.client
import itertools
import json
import os
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import db  # noqa: E402  (bench/db.py)

apps, idp, database_url, logs, per_session, sessions = (
    sys.argv[1].split(","), sys.argv[2], sys.argv[3], sys.argv[4].split(","), int(sys.argv[5]),
    sys.argv[6:],
)
app_urls = [urllib.parse.urlsplit(app) for app in apps]


def refresh_calls():
    request = urllib.request.Request(f"{idp}/_dev/counts", headers={"x-dev-idp-control": "yes"})
    with urllib.request.urlopen(request) as response:
        return json.load(response).get("token:refresh_token", 0)


def get(target):
    app_url, session = target
    started = time.perf_counter()
    connection = http.client.HTTPConnection(app_url.hostname, app_url.port, timeout=30)
    connection.request("GET", "/admin", headers={"Cookie": f"session={session}"})
    status = connection.getresponse().status
    connection.close()
    return status, (time.perf_counter() - started) * 1000


def burst():
    # Each session's requests go to every instance in turn.
    instances = itertools.cycle(app_urls)
    requests = [(next(instances), session) for session in sessions for _ in range(per_session)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(requests)) as pool:
        results = list(pool.map(get, requests))
    bad = [status for status, _ in results if status != 200]
    if bad:
        sys.exit(f"storm: {len(bad)} answers were not 200: {sorted(set(bad))}")
    latencies = sorted(ms for _, ms in results)
    return latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]


# Only the token calls of this storm: what the logs hold from before is skipped.
offsets = {log: os.path.getsize(log) for log in logs}
before = refresh_calls()
db.execute(database_url, f"update sessions set access_expires_at = {int(time.time())} - 1")
# The app trusts its cached copy of a session for up to a second; let it lapse.
time.sleep(1.5)
storm_p50, storm_p99 = burst()
calls = refresh_calls() - before
calm_p50, calm_p99 = burst()

# The app logs each token call's own duration ("access token refreshed ... token_call_ms=…").
token_calls = []
for log in logs:
    with open(log) as lines:
        lines.seek(offsets[log])
        token_calls += [
            float(line.split("token_call_ms=")[1].split()[0]) for line in lines if "token_call_ms=" in line
        ]
token_calls.sort()
token_p50 = token_calls[len(token_calls) // 2] if token_calls else float("nan")

print(f"| instances | sessions | requests | token-endpoint calls | token call p50 ms | storm p50 / p99 ms | fresh p50 / p99 ms | added p50 / p99 ms | added p50 − token call |")
print(f"|---|---|---|---|---|---|---|---|---|")
print(
    f"| {len(apps)} | {len(sessions)} | {len(sessions) * per_session} | {calls} (must be {len(sessions)}) "
    f"| {token_p50:.1f} | {storm_p50:.1f} / {storm_p99:.1f} | {calm_p50:.1f} / {calm_p99:.1f} "
    f"| {storm_p50 - calm_p50:+.1f} / {storm_p99 - calm_p99:+.1f} | {storm_p50 - calm_p50 - token_p50:+.1f} |"
)
if calls != len(sessions):
    sys.exit("storm: the number of token-endpoint calls is not the number of sessions")
