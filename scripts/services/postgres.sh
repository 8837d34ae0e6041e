#!/usr/bin/env bash
# PostgreSQL for the tests (the lrs-store conformance suite, multi-node engine tests): install
# the Debian server, start a throwaway cluster, stop it.
#
#   postgres.sh install            as root: install the `postgresql` package unless a server is
#                                  already there; prints the server version
#   postgres.sh start [DIR] [PORT] start a cluster in DIR (default: a new folder under /tmp) on
#                                  127.0.0.1:PORT (default: a free port), wait until it accepts
#                                  connections, print its URL (postgres://postgres@127.0.0.1:PORT/postgres)
#                                  on stdout; everything else goes to stderr
#   postgres.sh stop DIR           stop the cluster in DIR and delete DIR
#
# The cluster trusts local connections (user `postgres`, no password) and listens on loopback
# only. It is for tests: fsync is off. The server refuses to run as root, so as root every server
# program runs as the `postgres` user (created by the Debian package) through runuser.
#
# Typical use:
#   scripts/services/postgres.sh install
#   dir=$(mktemp -d) && LRS_TEST_POSTGRES_URL=$(scripts/services/postgres.sh start "$dir")
#   export LRS_TEST_POSTGRES_URL; cargo test -p lrs-store; scripts/services/postgres.sh stop "$dir"
set -euo pipefail

me="$(basename "$0")"
die() { echo "$me: error: $*" >&2; exit 1; }
say() { echo "$me: $*" >&2; }

# The newest /usr/lib/postgresql/<version>/bin holding initdb, or nothing.
find_bin() {
  local dir best=""
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] || continue
    if [ -z "$best" ] || [ "$(basename "$(dirname "$dir")")" -gt "$(basename "$(dirname "$best")")" ] 2>/dev/null; then
      best="$dir"
    fi
  done
  [ -n "$best" ] && echo "$best"
}

is_root() { [ "$(id -u)" = 0 ]; }

# Run a server program, as the postgres user when we are root.
as_server_user() {
  if is_root; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cmd_install() {
  local bin
  if bin="$(find_bin)"; then
    say "PostgreSQL is already installed in $bin"
  else
    is_root || die "installing PostgreSQL needs root (apt-get install postgresql)"
    command -v apt-get >/dev/null || die "apt-get not found: install PostgreSQL 15 by hand"
    say "installing the postgresql package"
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
    bin="$(find_bin)" || die "the postgresql package is installed but no /usr/lib/postgresql/*/bin/initdb was found"
  fi
  "$bin/postgres" --version
}

# Whether something accepts connections on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

random_free_port() {
  local port tries=0
  while [ $tries -lt 100 ]; do
    port=$((20000 + RANDOM % 40000))
    if ! port_in_use "$port"; then
      echo "$port"
      return 0
    fi
    tries=$((tries + 1))
  done
  die "no free port found on 127.0.0.1"
}

cmd_start() {
  local dir="${1:-}" port="${2:-}" bin
  bin="$(find_bin)" || die "no PostgreSQL server in /usr/lib/postgresql/*/bin: run '$0 install' first"
  if [ -n "$port" ] && ! [[ "$port" =~ ^[0-9]+$ && "$port" -ge 1 && "$port" -le 65535 ]]; then
    die "port '$port' is not a number from 1 to 65535"
  fi
  if [ -z "$dir" ]; then
    dir="$(mktemp -d /tmp/lrs-postgres.XXXXXX)"
  else
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
  fi
  if [ ${#dir} -gt 90 ]; then
    die "folder '$dir' is too long for a unix socket path (at most 90 characters)"
  fi
  touch "$dir/.lrs-postgres"
  if is_root; then
    id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist (install the postgresql package: '$0 install')"
    chown -R postgres:postgres "$dir"
    runuser -u postgres -- test -w "$dir" ||
      die "user 'postgres' cannot write to $dir (a parent folder is closed to it): pick a folder under /tmp"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    if ! as_server_user "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C -N \
        >"$dir/initdb.log" 2>&1; then
      cat "$dir/initdb.log" >&2
      die "initdb failed in $dir/data"
    fi
  fi
  local attempts=1 chosen
  [ -z "$port" ] && attempts=5
  for _ in $(seq "$attempts"); do
    chosen="${port:-$(random_free_port)}"
    if as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $chosen -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" \
        start >&2; then
      if ! as_server_user "$bin/pg_isready" -q -h 127.0.0.1 -p "$chosen" -t 30; then
        tail -n 20 "$dir/server.log" >&2 || true
        die "the server in $dir started but does not accept connections on port $chosen"
      fi
      echo "$chosen" >"$dir/port"
      say "cluster in $dir on 127.0.0.1:$chosen (stop it with: $0 stop $dir)"
      echo "postgres://postgres@127.0.0.1:$chosen/postgres"
      return 0
    fi
    tail -n 20 "$dir/server.log" >&2 || true
    say "could not start on port $chosen"
  done
  die "the server in $dir did not start (log: $dir/server.log)"
}

cmd_stop() {
  local dir="${1:-}" bin
  [ -n "$dir" ] || die "usage: $me stop DIR"
  [ -d "$dir" ] || die "$dir does not exist"
  [ -f "$dir/.lrs-postgres" ] || die "$dir was not made by '$me start': not touching it"
  if [ -f "$dir/data/postmaster.pid" ]; then
    bin="$(find_bin)" || die "no PostgreSQL server in /usr/lib/postgresql/*/bin to stop the cluster with"
    as_server_user "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2 ||
      die "pg_ctl stop failed for $dir/data"
  fi
  rm -rf "$dir"
  say "stopped and removed $dir"
}

case "${1:-}" in
  install) shift; cmd_install "$@" ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *)
    echo "usage: $me install | start [DIR] [PORT] | stop DIR" >&2
    exit 2
    ;;
esac
