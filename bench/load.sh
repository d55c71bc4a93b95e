#!/usr/bin/env bash
# Load benchmark: one command, prints every figure BENCHMARKS.md reports.
#
#   bench/load.sh                                   # SQLite (a fresh file); about 3 minutes
#   DATABASE_URL=postgres://user@host/db bench/load.sh  # PostgreSQL: a fresh database on that server
#   bench/load.sh --both                            # both in one run: SQLite, then a throwaway
#                                                   # PostgreSQL (scripts/postgres.sh); about 6 min
#   DURATION=5 bench/load.sh                        # shorter measurements
#   METRICS=off bench/load.sh                       # without the metrics listener (and recording)
#
# For each backend: starts the app in release mode with the development IdP on free ports, signs
# users in through the real flow (the IdP's login form), then measures with wrk, side by side: a
# static file of the app (the ceiling), the landing page signed in, a protected page that needs no
# IdP call, and /account. Then a refresh storm on one instance and across three instances sharing
# the database, and a scale run with 1 000 and 1 000 000 sessions in the table.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
STORM_SESSIONS=20
STORM_PER_SESSION=50
SCALE_SESSIONS=${SCALE_SESSIONS:-1000}
# Metrics on by default: the figures are those of a deployment that is scraped.
METRICS=${METRICS:-on}

# install, free_port and sign_in
source bench/lib.sh
command -v wrk >/dev/null || install wrk
command -v python3 >/dev/null || { echo "bench/load.sh needs python3" >&2; exit 1; }

backends=()
postgres_server=""
if [ "${1:-}" = --both ]; then
  backends=(sqlite postgres)
elif [[ "${DATABASE_URL:-}" == postgres* ]]; then
  backends=(postgres)
  postgres_server=$DATABASE_URL
else
  backends=(sqlite)
fi
[[ " ${backends[*]} " != *" postgres "* ]] || command -v psql >/dev/null || install postgresql-client

cargo build --release --quiet
work=$(mktemp -d)
chmod 755 "$work"
APP_PORT=$(free_port)
IDP_PORT=$(free_port)
METRICS_PORT=$(free_port)
APP="http://localhost:$APP_PORT"
IDP="http://127.0.0.1:$IDP_PORT"
# Every instance shares these, as instances behind one load balancer would.
APP_SECRET=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(64)).decode())')
DEV_IDP_CLIENT_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
export APP_SECRET
PIDS=()

metrics_listen=""
[ "$METRICS" = off ] || metrics_listen="127.0.0.1:$METRICS_PORT"
wait_healthy() {
  for _ in $(seq 1 100); do curl -fs "$1/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "the app at $1 did not start; see $2" >&2; exit 1
}
# The first instance runs the development IdP, with a client secret the others are given.
start_app() {
  (cd "$work" && APP_LISTEN="127.0.0.1:$APP_PORT" APP_BASE_URL="$APP" \
    DEV_IDP_LISTEN="127.0.0.1:$IDP_PORT" DEV_IDP_CLIENT_SECRET="$DEV_IDP_CLIENT_SECRET" \
    METRICS_LISTEN="$metrics_listen" DATABASE_URL="$DB" \
    RUST_LOG="${RUST_LOG:-warn,cognito_web::auth::refresh=info}" \
    NO_COLOR=1 exec "$OLDPWD/target/release/cognito-web" >"$work/app.log" 2>&1) &
  PID=$!
  wait_healthy "$APP" "$work/app.log"
}
# Another instance on its own port, behind the same public URL, using the first one's IdP.
start_instance() {
  local n=$1 port
  port=$(free_port)
  APP_LISTEN="127.0.0.1:$port" APP_BASE_URL="$APP" DATABASE_URL="$DB" \
    COGNITO_DOMAIN="$IDP" COGNITO_ISSUER="$IDP/local-1_DevPool" \
    COGNITO_CLIENT_ID=devappclient00000000000000 COGNITO_CLIENT_SECRET="$DEV_IDP_CLIENT_SECRET" \
    RUST_LOG="${RUST_LOG:-warn,cognito_web::auth::refresh=info}" \
    NO_COLOR=1 target/release/cognito-web >"$work/app$n.log" 2>&1 &
  PIDS+=($!)
  wait_healthy "http://127.0.0.1:$port" "$work/app$n.log"
  INSTANCES+=",http://127.0.0.1:$port"
  INSTANCE_LOGS+=",$work/app$n.log"
}
stop_app() {
  for pid in "${PID:-}" "${PIDS[@]}"; do
    [ -n "$pid" ] || continue
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  done
  PID=""; PIDS=()
}
cleanup() {
  stop_app
  [ -z "${throwaway:-}" ] || scripts/postgres.sh stop "$throwaway" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if [[ " ${backends[*]} " == *" postgres "* ]] && [ -z "$postgres_server" ]; then
  throwaway="$work/postgres"
  postgres_server=$(scripts/postgres.sh start "$throwaway" 2>/dev/null)
fi

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

storm() {
  local sessions=()
  for _ in $(seq 1 "$STORM_SESSIONS"); do sessions+=("$(sign_in admin)"); done
  python3 bench/storm.py "$INSTANCES" "$IDP" "$DB" "$INSTANCE_LOGS" "$STORM_PER_SESSION" "${sessions[@]}"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2/1048576 }' /proc/meminfo), $(uname -sr)"
echo "wrk: 2 threads, $CONNECTIONS connections, ${DURATION}s per page; the server runs 2 workers"
echo "metrics: $METRICS${metrics_listen:+ (METRICS_LISTEN=$metrics_listen, scraped every 5 s during the load)}"

for backend in "${backends[@]}"; do
  if [ "$backend" = postgres ]; then
    DB=$(python3 bench/db.py fresh "$postgres_server" "cognito_web_bench")
    version=$(psql "$DB" -XAtc 'show server_version')
    echo; echo "# PostgreSQL $version (a fresh database on one server, loopback)"
  else
    DB="sqlite://$work/app.db"
    rm -f "$work"/app.db*
    echo; echo "# SQLite (a fresh file)"
  fi
  start_app
  INSTANCES=$APP
  INSTANCE_LOGS="$work/app.log"
  echo
  sessions=""
  for user in admin admin admin demo; do sessions+="\"$(sign_in "$user")\","; done
  admin_sessions=$(python3 -c "import sys; s=sys.argv[1].rstrip(',').split(','); print(','.join(s[:3]))" "$sessions")

  echo "## $backend: signed-in pages against the app's own static file"
  header "× ceiling"
  CEILING=""
  measure "static file (/static/app.css)" /static/app.css ""
  measure "landing page, signed in (/)" / "$admin_sessions"
  measure "protected, no IdP call (/admin)" /admin "$admin_sessions"
  measure "account, userInfo cached (/account)" /account "$admin_sessions"
  echo

  echo "## $backend: refresh storm, $STORM_SESSIONS sessions, $STORM_PER_SESSION concurrent requests each"
  storm
  echo "## $backend: the same storm across three instances sharing the database"
  start_instance 2
  start_instance 3
  storm
  echo

  echo "## $backend: the signed-in landing page over $SCALE_SESSIONS sessions, with 1 000 and 1 000 000 rows"
  echo "(each session's cached copy is re-read from the database once a second, so the load reads it"
  echo " about $SCALE_SESSIONS times a second)"
  header "× 1 000"
  CEILING=""
  for rows in 1000 1000000; do
    stop_app
    python3 bench/seed.py "$DB" "$rows" "$SCALE_SESSIONS" "$work/ids"
    start_app
    measure "/, $rows rows" / "$(cat "$work/ids")"
  done
  stop_app
done
