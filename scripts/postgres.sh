#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for development and tests (nothing here is fit for production:
# trust authentication, fsync off).
#
#   scripts/postgres.sh start [DIR]   create the cluster in DIR if there is none, start it, print its URL
#   scripts/postgres.sh stop [DIR]    stop it (succeeds if it is already stopped)
#   scripts/postgres.sh url [DIR]     print its URL
#   scripts/postgres.sh bindir        print the folder of the initdb/pg_ctl it would use
#
# DIR defaults to ${TMPDIR:-/tmp}/cognito-web-postgres. It holds data/ (the cluster), port (the
# TCP port picked on the first start and reused by every later one), url, log (the server's log)
# and the server's unix socket; put server.crt and server.key there before a start for TLS. The
# server listens on 127.0.0.1 only; the URL, the one line that `start` and `url` print on stdout,
# is postgres://postgres@127.0.0.1:PORT/postgres, e.g.
#
#   TEST_DATABASE_URL=$(scripts/postgres.sh start) cargo test
#
# initdb and pg_ctl come from the PATH, else from the newest /usr/lib/postgresql/*/bin (where
# Debian's `postgresql` package puts them). PostgreSQL refuses to run as root: run as root, the
# script runs them as the owner of an existing DIR/data, else as the `postgres` user, else as a
# system user `pgthrowaway` that it creates.
set -euo pipefail

die() {
  echo "postgres.sh: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 start|stop|url [DIR]  |  $0 bindir" >&2
  exit 2
}

# The folder holding initdb and pg_ctl, or nothing.
find_bindir() {
  local initdb pg_ctl dir
  if initdb=$(command -v initdb) && pg_ctl=$(command -v pg_ctl); then
    if [ "$(dirname "$initdb")" = "$(dirname "$pg_ctl")" ]; then
      dirname "$pg_ctl"
      return
    fi
  fi
  for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return
    fi
  done
}

need_bindir() {
  BINDIR=$(find_bindir)
  [ -n "$BINDIR" ] || die "no initdb and pg_ctl side by side on the PATH or in /usr/lib/postgresql/*/bin: install Debian's postgresql package (apt-get install postgresql)"
}

# The user that runs initdb and pg_ctl (set in RUN_AS when we are root), and `as_pg CMD...` runs
# a command as that user, from inside DIR (the caller's folder may not be readable by that user).
RUN_AS=
choose_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  local owner
  if [ -d "$DIR/data" ]; then
    owner=$(stat -c %U "$DIR/data")
    if [ "$owner" != root ] && [ "$owner" != UNKNOWN ]; then
      RUN_AS=$owner
      return
    fi
  fi
  if id -u postgres >/dev/null 2>&1; then
    RUN_AS=postgres
  else
    if ! id -u pgthrowaway >/dev/null 2>&1; then
      echo "postgres.sh: creating the system user pgthrowaway to run PostgreSQL (it refuses root)" >&2
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        pgthrowaway >&2 || die "could not create the system user pgthrowaway"
    fi
    RUN_AS=pgthrowaway
  fi
}

as_pg() {
  if [ -n "$RUN_AS" ]; then
    (cd "$DIR" && runuser -u "$RUN_AS" -- "$@")
  else
    (cd "$DIR" && "$@")
  fi
}

# Make DIR usable by the server's user: its owner, traversable all the way down.
prepare_dir() {
  if [ -z "$RUN_AS" ]; then
    [ -w "$DIR" ] && [ -x "$DIR" ] || die "$DIR is not writable by $(id -un)"
    return
  fi
  local p=$DIR
  while [ "$p" != / ]; do
    p=$(dirname "$p")
    runuser -u "$RUN_AS" -- test -x "$p" ||
      die "$p (a parent of $DIR) is not traversable by the user $RUN_AS, who runs PostgreSQL: pick another DIR or chmod o+x it"
  done
  chown "$RUN_AS" "$DIR"
  chmod u+rwx "$DIR"
  [ ! -e "$DIR/log" ] || chown "$RUN_AS" "$DIR/log"
}

pick_port() {
  local py port
  for py in python3 /usr/bin/python3 python; do
    if command -v "$py" >/dev/null 2>&1 &&
      port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null); then
      echo "$port"
      return
    fi
  done
  # No Python: try random ports until one refuses a connection (nothing listens there).
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  die "could not find a free TCP port on 127.0.0.1"
}

url() {
  echo "postgres://postgres@127.0.0.1:$(cat "$DIR/port")/postgres"
}

running() {
  [ -f "$DIR/data/PG_VERSION" ] && as_pg "$BINDIR/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

# The settings go through a shell (pg_ctl -o) and a list-valued setting (unix_socket_directories),
# and a unix socket's path has at most 107 bytes.
check_dir() {
  case $DIR in
    *[!A-Za-z0-9._/+@:=-]*) die "DIR's path may hold only letters, digits and . _ / + @ : = - (it is $DIR)" ;;
  esac
  [ $((${#DIR} + 18)) -le 107 ] || die "DIR is too long for a unix socket path (at most 89 bytes): $DIR"
}

cmd_start() {
  case $DIR in /*) ;; *) DIR=$PWD/$DIR ;; esac
  check_dir
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd -P)
  check_dir
  need_bindir
  choose_user
  prepare_dir

  if running; then
    url
    return
  fi

  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    [ ! -e "$DIR/data" ] || [ -z "$(ls -A "$DIR/data")" ] ||
      die "$DIR/data exists but holds no PostgreSQL cluster"
    echo "postgres.sh: creating a cluster in $DIR/data" >&2
    as_pg "$BINDIR/initdb" -D "$DIR/data" --auth=trust -U postgres --encoding=UTF8 --no-locale >&2 ||
      die "initdb failed"
  fi
  if [ ! -s "$DIR/port" ]; then
    pick_port >"$DIR/port.new"
    mv "$DIR/port.new" "$DIR/port"
  fi
  local port
  port=$(cat "$DIR/port")
  url >"$DIR/url"

  # TLS when DIR holds a certificate and its key (server.crt, server.key): the server wants its
  # key readable by its own user only.
  local tls=""
  if [ -f "$DIR/server.crt" ] && [ -f "$DIR/server.key" ]; then
    if [ -n "$RUN_AS" ]; then chown "$RUN_AS" "$DIR/server.crt" "$DIR/server.key"; fi
    chmod 600 "$DIR/server.key"
    tls=" -c ssl=on -c ssl_cert_file=$DIR/server.crt -c ssl_key_file=$DIR/server.key"
  fi
  if ! as_pg "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$DIR -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off$tls" start >&2; then
    echo "postgres.sh: the server did not start; the end of $DIR/log:" >&2
    tail -n 30 "$DIR/log" >&2 || true
    exit 1
  fi
  url
}

cmd_stop() {
  [ -d "$DIR" ] || return 0
  DIR=$(cd "$DIR" && pwd -P)
  [ -f "$DIR/data/PG_VERSION" ] || return 0
  need_bindir
  choose_user
  if running; then
    as_pg "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w -t 60 stop >&2
  fi
}

cmd_url() {
  [ -s "$DIR/port" ] || die "no cluster was started in $DIR (no $DIR/port)"
  url
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
DIR=${2:-${TMPDIR:-/tmp}/cognito-web-postgres}
case $1 in
  start) cmd_start ;;
  stop) cmd_stop ;;
  url) cmd_url ;;
  bindir)
    [ $# -eq 1 ] || usage
    need_bindir
    echo "$BINDIR"
    ;;
  *) usage ;;
esac
