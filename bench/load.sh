#!/usr/bin/env bash
# Load benchmark: one command, prints every figure BENCHMARKS.md reports.
#
#   bench/load.sh            # full run (about 4 minutes after the release build)
#   DURATION=5 bench/load.sh # shorter measurements
#   METRICS=off bench/load.sh # without the metrics listener (and so without recording)
#
# Starts the app in release mode with the development IdP on free ports and a fresh SQLite file,
# signs users in through the real flow (the IdP's login form), then measures with wrk, side by
# side: a static file of the app (the ceiling), the landing page signed in, a protected page that
# needs no IdP call, and /account. Then a refresh storm and a scale run with 1 000 000 sessions.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
STORM_SESSIONS=20
STORM_PER_SESSION=50
SCALE_SESSIONS=${SCALE_SESSIONS:-1000}
# Metrics on by default: the figures are those of a deployment that is scraped.
METRICS=${METRICS:-on}

if ! command -v wrk >/dev/null; then
  echo "installing wrk from the machine's package manager" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
command -v python3 >/dev/null || { echo "bench/load.sh needs python3" >&2; exit 1; }

cargo build --release --quiet
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
APP_PORT=$(free_port)
IDP_PORT=$(free_port)
METRICS_PORT=$(free_port)
APP="http://localhost:$APP_PORT"
IDP="http://127.0.0.1:$IDP_PORT"
DB="$work/app.db"

metrics_listen=""
[ "$METRICS" = off ] || metrics_listen="127.0.0.1:$METRICS_PORT"
start_app() {
  APP_LISTEN="127.0.0.1:$APP_PORT" APP_BASE_URL="$APP" DEV_IDP_LISTEN="127.0.0.1:$IDP_PORT" \
    METRICS_LISTEN="$metrics_listen" \
    DATABASE_URL="sqlite://$DB" RUST_LOG="${RUST_LOG:-warn,cognito_web::auth::refresh=info}" \
    NO_COLOR=1 target/release/cognito-web >"$work/app.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -fs "$APP/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "the app did not start; see $work/app.log" >&2; exit 1
}
stop_app() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
trap 'stop_app; rm -rf "$work"' EXIT

# Signs in through the real redirects with a fresh cookie jar; prints the session cookie's value.
sign_in() {
  local user=$1 jar location page csrf
  jar=$(mktemp -p "$work")
  location=$(curl -s -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" "$APP/auth/sign-in")
  location=$(curl -s -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" "$location")
  page=$(curl -s -c "$jar" -b "$jar" "$location")
  csrf=$(sed -n 's/.*name="_csrf" value="\([^"]*\)".*/\1/p' <<<"$page")
  location=$(curl -s -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" \
    --data-urlencode "_csrf=$csrf" --data-urlencode "username=$user" --data-urlencode "password=$user-password" "$location")
  curl -s -o /dev/null -c "$jar" -b "$jar" "$location"
  awk '$6 == "session" { print $7 }' "$jar"
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
peak_rss_mb() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$PID/status"; }
CLK_TCK=$(getconf CLK_TCK)

# As Prometheus would, but more often: a scrape every 5 seconds while wrk runs (its cost counts).
scrape_while_loaded() {
  [ -n "$metrics_listen" ] || return 0
  while sleep 5; do curl -fs "http://$metrics_listen/metrics" >/dev/null || true; done
}

# wrk with the sessions rotated per request; prints one table row.
CEILING=""
measure() {
  local label=$1 path=$2 sessions=$3 before after out rps p50 p99 requests cpu ratio
  {
    echo "local sessions = {$sessions}"
    echo 'local i = 0'
    echo 'request = function()'
    echo '  i = i + 1'
    echo '  local headers = {}'
    echo '  if #sessions > 0 then headers["Cookie"] = "session=" .. sessions[(i % #sessions) + 1] end'
    echo "  return wrk.format(\"GET\", \"$path\", headers)"
    echo 'end'
  } >"$work/rotate.lua"
  before=$(cpu_ticks)
  scrape_while_loaded &
  local scraper=$!
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$work/rotate.lua" "$APP")
  kill "$scraper" 2>/dev/null || true; wait "$scraper" 2>/dev/null || true
  after=$(cpu_ticks)
  if grep -q "Non-2xx" <<<"$out"; then echo "$label: non-2xx answers:"; echo "$out"; exit 1; fi
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  requests=$(awk '/requests in/ { print $1 }' <<<"$out")
  cpu=$(python3 -c "print(f'{($after - $before) / $CLK_TCK / $requests * 1e6:.1f}')")
  [ -n "$CEILING" ] || CEILING=$rps
  ratio=$(python3 -c "print(f'{$rps / $CEILING:.2f}')")
  printf '| %-36s | %10s | %8s | %8s | %10s | %11s | %9s |\n' "$label" "$rps" "$p50" "$p99" "$cpu" "$(peak_rss_mb)" "$ratio"
}

header() {
  printf '| %-36s | %10s | %8s | %8s | %10s | %11s | %9s |\n' page "req/s" p50 p99 "CPU µs/req" "peak RSS MB" "$1"
  printf '|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..38})" ------------ ---------- ---------- ------------ ------------- -----------
}

start_app
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2/1048576 }' /proc/meminfo), $(uname -sr)"
echo "wrk: 2 threads, $CONNECTIONS connections, ${DURATION}s per page; the server runs 2 workers"
echo "metrics: $METRICS${metrics_listen:+ (METRICS_LISTEN=$metrics_listen, scraped every 5 s during the load)}"
echo
sessions=""
for user in admin admin admin demo; do sessions+="\"$(sign_in "$user")\","; done
admin_sessions=$(python3 -c "import sys; s=sys.argv[1].rstrip(',').split(','); print(','.join(s[:3]))" "$sessions")

echo "## Signed-in pages against the app's own static file"
header "× ceiling"
measure "static file (/static/app.css)" /static/app.css ""
measure "landing page, signed in (/)" / "$admin_sessions"
measure "protected, no IdP call (/admin)" /admin "$admin_sessions"
measure "account, userInfo cached (/account)" /account "$admin_sessions"
echo

echo "## Refresh storm: $STORM_SESSIONS sessions, $STORM_PER_SESSION concurrent requests each"
storm_sessions=()
for i in $(seq 1 "$STORM_SESSIONS"); do storm_sessions+=("$(sign_in admin)"); done
python3 bench/storm.py "$APP" "$IDP" "$DB" "$work/app.log" "$STORM_PER_SESSION" "${storm_sessions[@]}"
echo

echo "## Scale: the signed-in landing page over $SCALE_SESSIONS sessions, with 1 000 and 1 000 000 rows"
echo "(each session's cached copy is re-read from SQLite once a second, so the load reads the database"
echo " about $SCALE_SESSIONS times a second)"
header "× 1 000"
CEILING=""
for rows in 1000 1000000; do
  stop_app
  python3 bench/seed.py "$DB" "$rows" "$SCALE_SESSIONS" "$work/ids"
  start_app
  measure "/, $rows rows" / "$(cat "$work/ids")"
done
