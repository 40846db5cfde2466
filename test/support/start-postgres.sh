#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests and prints its URL.
#
#   test/support/start-postgres.sh DIR          start a cluster in the empty directory DIR
#   test/support/start-postgres.sh --stop DIR   stop it and delete DIR
#
# The server listens on 127.0.0.1 only (port DECLOG_PG_PORT, default 55432),
# trusts local connections and keeps its socket inside DIR. initdb refuses to
# run as root, so as root the cluster belongs to the `postgres` system user.
#
#   export DECLOG_TEST_PG=$(test/support/start-postgres.sh "$(mktemp -d)")
set -euo pipefail
# The postgres user may not enter the caller's folder, so run from the root folder.
DIR_ARG_BASE="$PWD"
cd /

port="${DECLOG_PG_PORT:-55432}"
database=declog

find_bin() {
  local name="$1" candidate
  if command -v "$name" >/dev/null 2>&1; then
    command -v "$name"
    return
  fi
  for candidate in /usr/lib/postgresql/*/bin/"$name"; do
    if [ -x "$candidate" ]; then
      echo "$candidate"
      return
    fi
  done
  echo "start-postgres: $name not found; install PostgreSQL (apt-get install postgresql)" >&2
  exit 1
}

# Runs a command as the cluster's owner: `postgres` when we are root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

usage() {
  echo "usage: $0 DIR | $0 --stop DIR" >&2
  exit 2
}

stop() {
  local dir; dir=$(cd "$DIR_ARG_BASE" && realpath -m -- "$1")
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$(find_bin pg_ctl)" -D "$dir/data" -m fast -w stop >/dev/null
  fi
  rm -rf "$dir"
}

start() {
  local dir; dir=$(cd "$DIR_ARG_BASE" && realpath -m -- "$1")
  [ -d "$dir" ] || { echo "start-postgres: $dir is not a directory" >&2; exit 1; }
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
  chmod 700 "$dir"

  as_owner "$(find_bin initdb)" -D "$dir/data" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  # Loopback only: the server is never reachable from another host.
  as_owner "$(find_bin pg_ctl)" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir" >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  as_owner "$(find_bin createdb)" -h 127.0.0.1 -p "$port" -U postgres "$database"
  echo "postgres://postgres@127.0.0.1:$port/$database"
}

case "${1:-}" in
  --stop)
    [ $# -eq 2 ] || usage
    stop "$2"
    ;;
  "" | -*) usage ;;
  *)
    [ $# -eq 1 ] || usage
    start "$1"
    ;;
esac
