#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests: initdb + pg_ctl on a Unix socket in a
# temporary folder, on a free port, trust authentication, nothing listening on TCP.
#
#   eval "$(scripts/pg-test-cluster.sh start)"   # exports PETITION_RPC_TEST_PG_URI, PG_TEST_CLUSTER_DIR
#   scripts/pg-test-cluster.sh env                # prints those exports again
#   scripts/pg-test-cluster.sh stop               # stops it and deletes the folder
#
# Installs PostgreSQL (Debian's `postgresql` and `libpq-dev`) when missing. PostgreSQL refuses to
# run as root, so as root the cluster runs as the `postgres` user. Only the exports go to stdout.
set -euo pipefail

say() { printf 'pg-test-cluster: %s\n' "$*" >&2; }
command="${1:-}"
dir="${2:-${PG_TEST_CLUSTER_DIR:-}}"

find_bin() {
  local candidate
  for candidate in /usr/lib/postgresql/*/bin; do
    if [ -x "$candidate/initdb" ]; then printf '%s\n' "$candidate"; return 0; fi
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

install_postgres() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  say "installing postgresql and libpq-dev"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql libpq-dev >/dev/null
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# Runs a PostgreSQL program as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    # runuser keeps no controlling terminal and needs no password.
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

print_env() {
  local port
  port="$(cat "$1/port")"
  printf 'export PG_TEST_CLUSTER_DIR=%q\n' "$1"
  printf 'export PETITION_RPC_TEST_PG_URI=%q\n' "postgresql://postgres@/postgres?host=$1/socket&port=$port"
}

case "$command" in
  start)
    bin="$(find_bin)" || { install_postgres; bin="$(find_bin)"; } || { say "PostgreSQL could not be installed"; exit 1; }
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    dir="$(mktemp -d "${TMPDIR:-/tmp}/petition-rpc-pg.XXXXXX")"
    mkdir -p "$dir/socket"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$dir"; fi
    chmod 0755 "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { say "initdb failed:"; cat "$dir/initdb.log" >&2; exit 1; }
    for attempt in 1 2 3 4 5; do
      port="$(free_port)"
      # In the configuration (not on pg_ctl's command line), so a plain `pg_ctl start` after a
      # stop (the restart tests) comes back on the same socket.
      cat >"$dir/data/petition-rpc.conf" <<CONF
port = $port
unix_socket_directories = '$dir/socket'
listen_addresses = ''
max_connections = 200
CONF
      if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir/data/petition-rpc.conf"; fi
      grep -q "^include_if_exists = 'petition-rpc.conf'" "$dir/data/postgresql.conf" \
        || echo "include_if_exists = 'petition-rpc.conf'" >>"$dir/data/postgresql.conf"
      if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null 2>&1; then
        printf '%s\n' "$port" >"$dir/port"
        printf '%s\n' "$bin" >"$dir/bin"
        print_env "$dir"
        say "started on port $port in $dir"
        exit 0
      fi
    done
    say "pg_ctl start failed:"; cat "$dir/server.log" >&2 || true
    exit 1
    ;;
  env)
    [ -n "$dir" ] && [ -f "$dir/port" ] || { say "no cluster (set PG_TEST_CLUSTER_DIR or pass the folder)"; exit 1; }
    print_env "$dir"
    ;;
  stop)
    [ -n "$dir" ] && [ -d "$dir" ] || { say "no cluster to stop"; exit 0; }
    if [ -f "$dir/bin" ] && [ -d "$dir/data" ]; then
      as_owner "$(cat "$dir/bin")/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    say "stopped"
    ;;
  *)
    say "usage: $0 start|env|stop [folder]"
    exit 64
    ;;
esac
