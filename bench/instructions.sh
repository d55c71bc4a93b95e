#!/usr/bin/env bash
# Instructions per request, counted by callgrind: a cost model that, unlike req/s on a shared
# machine, does not move with the other work on it. One command:
#
#   bench/instructions.sh                    # metrics on; 1 000 requests per page
#   METRICS=off bench/instructions.sh
#   BIN=path/to/cognito-web bench/instructions.sh   # another build, e.g. an older commit's
#
# Starts the release binary under valgrind --tool=callgrind with instrumentation off, signs in
# through the real flow, warms each page up, then counts the user-space instructions of N
# sequential requests per page (one keep-alive connection) and prints them per request. Each
# page's profile is kept in target/callgrind/ for `callgrind_annotate --inclusive=yes FILE`.
# Kernel work (the loopback network) is not counted: compare with bench/load.sh's CPU column.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000}
METRICS=${METRICS:-on}
# install, free_port and sign_in
source bench/lib.sh
command -v valgrind >/dev/null || install valgrind
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/cognito-web
fi
mkdir -p target/callgrind
work=$(mktemp -d)
APP_PORT=$(free_port)
APP="http://localhost:$APP_PORT"
metrics_listen=""
[ "$METRICS" = off ] || metrics_listen="127.0.0.1:$(free_port)"
APP_LISTEN="127.0.0.1:$APP_PORT" APP_BASE_URL="$APP" DEV_IDP_LISTEN="127.0.0.1:$(free_port)" \
  METRICS_LISTEN="$metrics_listen" DATABASE_URL="sqlite://$work/app.db" RUST_LOG=warn \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.%p" \
  "$BIN" >"$work/app.log" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do curl -fs "$APP/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

session=$(sign_in admin)

echo "instructions per request (callgrind, user space), $N requests per page, metrics $METRICS"
for path in /static/app.css / /admin /account; do
  # Warm-up: caches, the userInfo answer, metric handles.
  for _ in $(seq 1 50); do curl -s -o /dev/null -b "session=$session" "$APP$path"; done
  for _ in $(seq 1 "$N"); do printf 'url = "%s%s"\noutput = /dev/null\n' "$APP" "$path"; done >"$work/urls"
  callgrind_control -z "$PID" >/dev/null 2>&1
  callgrind_control -i on "$PID" >/dev/null 2>&1
  curl -s -K "$work/urls" -b "session=$session"
  callgrind_control -i off "$PID" >/dev/null 2>&1
  callgrind_control -d "$PID" >/dev/null 2>&1
  sleep 0.5
  profile=$(ls -t "$work"/callgrind.* | head -1)
  kept="target/callgrind/metrics-$METRICS${path//\//_}"
  cp "$profile" "$kept"
  total=$(awk '/^totals:/ { print $2; exit }' "$profile")
  printf '| %-18s | %8.1f k |\n' "$path" "$(python3 -c "print($total / $N / 1000)")"
done
